"""Pydantic schemas derived from models: ``schema_for(Book, mode="read" | "create" | "update")``.

- ``read``: every column except write-only ones (``json_schema_extra={"writeOnly": True}``, e.g. a password
  hash), all present in responses; ``relations=("author",)`` nests the related object's read schema.
- ``create``: without the primary key and server-set columns; defaults kept; unknown fields refused.
- ``update``: every field optional (PATCH semantics: send only what changes).

Each field keeps the model field's ``description`` and ``examples`` (``Field(schema_extra={"examples": [...]})``),
which the OpenAPI document shows and API testers such as schemathesis send.

Input schemas carry the bounds of each column's SQL type (:mod:`fastmango.api.bounds`: integer range, text
without NUL or lone surrogates and within its length, decimal digits, UTC date-time range), so a value the
database would refuse is a 422 naming the field, not a database error; read schemas carry integer ranges.
Input values also have the JSON type their schema publishes: a boolean, integer or number is not read from a
string (``"published": 0`` or ``"pages": "3"`` is a 422), nor a date or date-time from a number.
"""

from __future__ import annotations

import datetime
import decimal
import types
from collections.abc import Sequence
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, Strict, create_model
from pydantic.fields import FieldInfo

from fastmango.api.bounds import ISO_TEXT, JSON_NUMBER, aware, constraints, integer_bounds, python_type
from fastmango.db.compiler import model_info
from fastmango.db.errors import FieldError

Mode = Literal["read", "create", "update"]


def is_write_only(field: FieldInfo) -> bool:
    """Whether a model field must never appear in responses."""
    extra = field.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("writeOnly"))


def _server_set(model: type[Any], name: str) -> bool:
    info = model_info(model)
    column = info.mapper.columns.get(name)
    if column is None:
        return False
    return bool(column.primary_key and column.autoincrement in (True, "auto")) or column.server_default is not None


def _annotated(model: type[Any], name: str, field: FieldInfo, mode: Mode = "read") -> Any:
    metadata = list(field.metadata)
    annotation = aware(model, name, field.annotation)
    if mode == "read":
        bounds = integer_bounds(model, name)
        if bounds is not None:
            metadata.append(Field(ge=bounds[0], le=bounds[1]))
    else:
        if _holds(annotation, python_type(model, name) if name in model_info(model).mapper.columns else None):
            metadata.extend(constraints(model, name))
        metadata.extend(_json_typed(annotation))
    return Annotated[annotation, *metadata] if metadata else annotation


def _json_typed(annotation: Any) -> tuple[Any, ...]:
    """What makes an input field take only its JSON type: pydantic's lax mode reads ``0`` or ``"no"`` as
    ``False``, ``"3"`` as ``3`` and a number as a Unix time, where the published schema says otherwise."""
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        annotation = members[0] if len(members) == 1 else None
    if annotation is bool:
        return (Strict(),)
    if annotation in (int, float):
        return (JSON_NUMBER,)
    if annotation in (datetime.date, datetime.datetime, AwareDatetime):
        return (ISO_TEXT,)
    return ()


_COMPATIBLE: dict[type, set[Any]] = {
    int: {int},
    str: {str},
    datetime.datetime: {datetime.datetime, AwareDatetime},
    decimal.Decimal: {decimal.Decimal},
}


def _holds(annotation: Any, column_type: type[Any] | None) -> bool:
    """Whether a field's annotation is (optionally) the plain type its column's bounds apply to."""
    if column_type is None or column_type not in _COMPATIBLE:
        return False
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        annotation = members[0] if len(members) == 1 else None
    return annotation in _COMPATIBLE[column_type]


def schema_for(
    model: type[Any],
    mode: Mode = "read",
    *,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    relations: Sequence[str] = (),
) -> type[BaseModel]:
    """A Pydantic model for ``model`` in ``mode`` (cached per arguments).

    Args:
        model: A table model.
        mode: ``read`` (responses), ``create`` (POST/PUT bodies) or ``update`` (PATCH bodies).
        include: Only these fields.
        exclude: Not these fields.
        relations: For ``read``: relations to nest, as the related model's read schema (to-one: object or
            null; to-many: list). They must be loaded (``select_related``/``prefetch_related``).
    """
    return _schema_for(model, mode, tuple(include) if include is not None else None, tuple(exclude), tuple(relations))  # type: ignore[arg-type]


@cache
def _schema_for(
    model: type[Any],
    mode: Mode,
    include: tuple[str, ...] | None,
    exclude: tuple[str, ...],
    relations: tuple[str, ...],
) -> type[BaseModel]:
    info = model_info(model)
    known = set(model.model_fields)
    for name in (*(include or ()), *exclude):
        if name not in known:
            raise FieldError(f"{model.__name__} has no field {name!r}; fields are: {', '.join(sorted(known))}")
    fields: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if (include is not None and name not in include) or name in exclude:
            continue
        annotation = _annotated(model, name, field, mode)
        if mode == "read":
            if is_write_only(field):
                continue
            if name == info.pk_name:
                annotation = _annotated(model, name, FieldInfo(annotation=int if _is_int(field) else Any))
            fields[name] = (annotation, Field(description=field.description, examples=field.examples))
        elif mode == "create":
            if _server_set(model, name):
                continue
            fields[name] = (annotation, _copy_default(field))
        else:
            if name == info.pk_name:
                continue
            fields[name] = (annotation, Field(default=None, description=field.description, examples=field.examples))
    for relation in relations if mode == "read" else ():
        rel = info.relations.get(relation)
        if rel is None:
            raise FieldError(
                f"{model.__name__} has no relation {relation!r}; relations are: {', '.join(info.relations)}"
            )
        nested = _schema_for(rel.mapper.class_, "read", None, (), ())  # type: ignore[arg-type]
        nullable = not rel.uselist and any(column.nullable for column in rel.local_columns)
        if rel.uselist:
            fields[relation] = (list[nested], Field(default_factory=list))  # type: ignore[valid-type]
        else:
            fields[relation] = (nested | None if nullable else nested, ...)
    suffix = {"read": "Read", "create": "Create", "update": "Update"}[mode]
    config = ConfigDict(from_attributes=True) if mode == "read" else ConfigDict(extra="forbid")
    return create_model(f"{model.__name__}{suffix}", __config__=config, __module__=model.__module__, **fields)


def _is_int(field: FieldInfo) -> bool:
    return "int" in str(field.annotation)


def _copy_default(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        return Field(default_factory=field.default_factory, description=field.description, examples=field.examples)
    if field.is_required():
        return Field(description=field.description, examples=field.examples)
    return Field(default=field.default, description=field.description, examples=field.examples)
