"""Pydantic schemas derived from models: ``schema_for(Book, mode="read" | "create" | "update")``.

- ``read``: every column except write-only ones (``json_schema_extra={"writeOnly": True}``, e.g. a password
  hash), all present in responses; ``relations=("author",)`` nests the related object's read schema.
- ``create``: without the primary key and server-set columns; defaults kept; unknown fields refused.
- ``update``: every field optional (PATCH semantics: send only what changes).

Integer columns get the bounds of their SQL type, so an out-of-range number is a 422, not a database error.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from functools import cache
from typing import Annotated, Any, Literal, Optional

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo
from sqlalchemy import BigInteger, Integer, SmallInteger

from fastmango.db.compiler import model_info
from fastmango.db.errors import FieldError

Mode = Literal["read", "create", "update"]

_INT_BOUNDS = [
    (SmallInteger, 2**15),
    (BigInteger, 2**63),
    (Integer, 2**31),
]


def is_write_only(field: FieldInfo) -> bool:
    """Whether a model field must never appear in responses."""
    extra = field.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("writeOnly"))


def integer_bounds(model: type[Any], name: str) -> tuple[int, int] | None:
    """``(min, max)`` of an integer column's SQL type, or None for other columns."""
    column = model_info(model).mapper.columns.get(name)
    if column is None:
        return None
    for sql_type, limit in _INT_BOUNDS:
        if isinstance(column.type, sql_type):
            return -limit, limit - 1
    return None


def _server_set(model: type[Any], name: str) -> bool:
    info = model_info(model)
    column = info.mapper.columns.get(name)
    if column is None:
        return False
    return bool(column.primary_key and column.autoincrement in (True, "auto")) or column.server_default is not None


def _annotated(model: type[Any], name: str, field: FieldInfo) -> Any:
    metadata = list(field.metadata)
    bounds = integer_bounds(model, name)
    if bounds is not None:
        metadata.append(Field(ge=bounds[0], le=bounds[1]))
    annotation = _aware(model, name, field.annotation)
    return Annotated[annotation, *metadata] if metadata else annotation


def _aware(model: type[Any], name: str, annotation: Any) -> Any:
    """``AwareDatetime`` for a UTC column's ``datetime``: a body's date-time without an offset is a 422."""
    from fastmango.db.types import UTCDateTime

    column = model_info(model).mapper.columns.get(name)
    if column is None or not isinstance(column.type, UTCDateTime):
        return annotation
    if annotation is datetime.datetime:
        return AwareDatetime
    if annotation == datetime.datetime | None or annotation == Optional[datetime.datetime]:  # noqa: UP045
        return AwareDatetime | None
    return annotation


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
        annotation = _annotated(model, name, field)
        if mode == "read":
            if is_write_only(field):
                continue
            if name == info.pk_name:
                annotation = _annotated(model, name, FieldInfo(annotation=int if _is_int(field) else Any))
            fields[name] = (annotation, Field(description=field.description))
        elif mode == "create":
            if _server_set(model, name):
                continue
            fields[name] = (annotation, _copy_default(field))
        else:
            if name == info.pk_name:
                continue
            fields[name] = (annotation, Field(default=None, description=field.description))
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
    return create_model(  # type: ignore[no-any-return, call-overload]
        f"{model.__name__}{suffix}", __config__=config, __module__=model.__module__, **fields
    )


def _is_int(field: FieldInfo) -> bool:
    return "int" in str(field.annotation)


def _copy_default(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        return Field(default_factory=field.default_factory, description=field.description)
    if field.is_required():
        return Field(description=field.description)
    return Field(default=field.default, description=field.description)
