"""``datetime`` fields of ``Model`` tables are stored in UTC and refuse naive values.

SQLModel picks a column type per annotation; for ``datetime`` it gives a naive ``DateTime`` (older releases)
or its own ``UTCDateTime`` that fails deep inside a flush. A ``fastmango.db.Model`` table instead gets
:class:`~fastmango.db.types.UTCDateTime` for every ``datetime`` / ``datetime | None`` field that names no
``sa_type`` or ``sa_column``, and a naive value is refused when it is assigned (``Post(created_at=...)``,
``post.created_at = ...``, a ``default_factory``), with the model and field named, before any SQL is sent.
``pydantic.NaiveDatetime`` keeps SQLModel's naive column for those who want one.
"""

from __future__ import annotations

import dataclasses
import datetime
import types
import weakref
from typing import Annotated, Any, Union, get_args, get_origin

import sqlmodel.main as sqlmodel_main
from pydantic import AwareDatetime
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.orm import Mapper

from fastmango.db.errors import NaiveDatetimeError
from fastmango.db.types import UTCDateTime, naive_datetime_message

#: The column types fastmango chose itself: a subclass copies its base's fields, and these are then replaced
#: by a type of its own (so the error names the subclass), whereas a type the user named is kept.
_AUTOMATIC: weakref.WeakSet[UTCDateTime] = weakref.WeakSet()


def _column_option(field: FieldInfo, name: str) -> Any:
    """A field's ``sa_type`` / ``sa_column`` (in its metadata, or on SQLModel's own FieldInfo), or Undefined."""
    for item in field.metadata:
        value = getattr(item, name, PydanticUndefined) if dataclasses.is_dataclass(item) else PydanticUndefined
        if value is not PydanticUndefined:
            return value
    return getattr(field, name, PydanticUndefined)


def _is_datetime(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_datetime(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        return len(args) == 1 and _is_datetime(args[0])
    return annotation is AwareDatetime or (isinstance(annotation, type) and issubclass(annotation, datetime.datetime))


def use_utc_columns(cls: type[Any]) -> None:
    """Give each ``datetime`` field of ``cls`` that names no column type a :class:`UTCDateTime` column.

    Runs while the class is built, before SQLModel turns its fields into columns.
    """
    metadata_class = getattr(sqlmodel_main, "FieldInfoMetadata", None)
    for name, field in cls.model_fields.items():
        sa_type = _column_option(field, "sa_type")
        chosen = sa_type is not PydanticUndefined and not (isinstance(sa_type, UTCDateTime) and sa_type in _AUTOMATIC)
        if chosen or _column_option(field, "sa_column") is not PydanticUndefined or not _is_datetime(field.annotation):
            continue
        column_type = UTCDateTime()
        column_type.field = f"{cls.__name__}.{name}"
        _AUTOMATIC.add(column_type)
        # The metadata objects are shared with the base class's copy of the field: replace, never mutate.
        replaced = False
        items = []
        for item in field.metadata:
            if metadata_class is not None and isinstance(item, metadata_class):
                item = dataclasses.replace(item, sa_type=column_type)
                replaced = True
            items.append(item)
        if not replaced and metadata_class is not None:
            items.append(metadata_class(sa_type=column_type))
        field.metadata = items
        if isinstance(field, sqlmodel_main.FieldInfo):
            field.sa_type = column_type


def _refuse_naive(field: str) -> Any:
    def check(target: Any, value: Any, oldvalue: Any, initiator: Any) -> Any:
        if isinstance(value, datetime.datetime) and value.utcoffset() is None:
            raise NaiveDatetimeError(naive_datetime_message(field, value))
        return value

    return check


def _unwrap_naive(context: ExceptionContext) -> BaseException | None:
    # A naive value that reaches a statement (``update(at=...)``, ``filter(at__lt=...)``) is refused while its
    # parameters are processed, before anything is sent; raise that error, not SQLAlchemy's StatementError.
    if isinstance(context.original_exception, NaiveDatetimeError):
        return context.original_exception
    return None


def watch_naive_datetimes(base: type[Any]) -> None:
    """Refuse naive values on the UTC columns of every table mapped under ``base``, as they are assigned.

    A naive value given to a statement instead is refused by the column type, with the same error.
    """
    if not event.contains(Engine, "handle_error", _unwrap_naive):
        event.listen(Engine, "handle_error", _unwrap_naive)

    @event.listens_for(base, "after_mapper_constructed", propagate=True)
    def mapped(mapper: Mapper[Any], cls: type[Any]) -> None:
        for key, column in mapper.columns.items():  # not column_attrs: that configures every mapper, too soon
            if not isinstance(column.type, UTCDateTime):
                continue
            label = f"{cls.__name__}.{key}"
            if column.type.field is None:
                column.type.field = label
            event.listen(getattr(cls, key), "set", _refuse_naive(label), retval=True)
