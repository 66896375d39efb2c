"""What the admin UI needs to know of each field of a model: its widget type, whether it is required, choices..."""

from __future__ import annotations

import datetime
import decimal
import enum
import types
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from sqlalchemy import JSON, Enum, String, Text

from fastmango.api.links import is_many_to_many, link_of
from fastmango.api.schemas import is_write_only
from fastmango.db.compiler import model_info

FieldType = Literal["string", "text", "integer", "number", "boolean", "date", "datetime", "enum", "json", "fk", "m2m"]


@dataclass(frozen=True)
class FieldInfo:
    """One field of a model as the admin shows it.

    Attributes:
        name: The field (a column, or a many-to-many relation).
        kind: The widget type (``type`` in the site schema).
        related: For ``fk`` and ``m2m``: the related model.
        choices: For ``enum``: ``(value, label)`` pairs.
    """

    name: str
    kind: FieldType
    required: bool
    nullable: bool
    server_set: bool
    max_length: int | None = None
    help: str | None = None
    related: type[Any] | None = None
    choices: tuple[tuple[Any, str], ...] | None = None

    @property
    def label(self) -> str:
        return self.name.removesuffix("_id").replace("_", " ").capitalize()


def model_fields(model: type[Any]) -> dict[str, FieldInfo]:
    """The fields of ``model`` the admin can show, in declaration order: columns (without write-only ones such as
    a password hash) and many-to-many relations."""
    info = model_info(model)
    found: dict[str, FieldInfo] = {}
    for name, field in model.model_fields.items():
        if name in info.columns and not is_write_only(field):
            found[name] = _column(model, name, field)
    for name in info.relations:
        if is_many_to_many(model, name):
            found[name] = FieldInfo(
                name, "m2m", required=False, nullable=False, server_set=False, related=link_of(model, name).target
            )
    return found


def _column(model: type[Any], name: str, field: Any) -> FieldInfo:
    info = model_info(model)
    column = info.mapper.columns[name]
    sql_type = column.type
    related = next((str(fk.column.table.name) for fk in column.foreign_keys), None)
    required = field.is_required() and not column.primary_key
    generated = column.primary_key and column.autoincrement in (True, "auto")
    server_set = bool(generated) or column.server_default is not None
    common: dict[str, Any] = {
        "required": required,
        "nullable": bool(column.nullable),
        "server_set": server_set,
        "help": field.description,
    }
    if related is not None:
        target = _model_of_table(related)
        if target is not None:
            return FieldInfo(name, "fk", related=target, **common)
    annotation = _plain(field.annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        choices = tuple((member.value, member.name.replace("_", " ").capitalize()) for member in annotation)
        return FieldInfo(name, "enum", choices=choices, **common)
    if isinstance(sql_type, Enum) and sql_type.enums:
        return FieldInfo(name, "enum", choices=tuple((value, value) for value in sql_type.enums), **common)
    kind: FieldType
    if annotation is bool:
        kind = "boolean"
    elif annotation is int:
        kind = "integer"
    elif annotation in (float, decimal.Decimal):
        kind = "number"
    elif annotation is datetime.datetime:
        kind = "datetime"
    elif annotation is datetime.date:
        kind = "date"
    elif isinstance(sql_type, JSON) or get_origin(annotation) in (dict, list) or annotation in (dict, list):
        kind = "json"
    elif isinstance(sql_type, Text) or not (isinstance(sql_type, String) and sql_type.length):
        kind = "text"
    else:
        kind = "string"
    length = sql_type.length if isinstance(sql_type, String) and not isinstance(sql_type, Text) else None
    return FieldInfo(name, kind, max_length=length, **common)


def _plain(annotation: Any) -> Any:
    """``int | None`` -> ``int``."""
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        return members[0] if len(members) == 1 else annotation
    return annotation


def _model_of_table(table: str) -> type[Any] | None:
    from sqlmodel.main import default_registry

    return next((m.class_ for m in default_registry.mappers if getattr(m.local_table, "name", None) == table), None)
