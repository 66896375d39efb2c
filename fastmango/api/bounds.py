"""Input bounds derived from a column's SQL type: which values a column can hold, said in one place.

Bodies (:func:`fastmango.api.schemas.schema_for`), filters (:class:`fastmango.api.filters.FilterSpec`),
primary keys in paths and cursors all validate through the constraints here, so a value the database would
refuse is a 4xx naming the field, never a driver error:

- integers: the range of the SQL type (``SmallInteger`` int16, ``Integer`` int32, ``BigInteger`` int64);
- text: no NUL (PostgreSQL refuses it in text) and no lone surrogate (not encodable as UTF-8), at most the
  column's length (``String(100)``);
- decimals: at most the column's digits and decimal places (``Numeric(8, 2)``);
- date-times (every ``datetime`` field is a UTC column): an instant that exists in UTC between years 1 and 9999
  (``0001-01-01T00:00:00+05:00`` does not); a body must give an offset (:func:`aware`), a filter without one
  means UTC (:func:`utc_moment`);
- types as JSON says them: a date or date-time is ISO 8601 text, never a number (pydantic would read ``0.5`` or
  ``1700000000`` as a Unix time), and a boolean filter is ``true`` or ``false``, not ``0``, ``1`` or ``yes``.

The constraints are pydantic metadata, compiled once per model field (in the generated schemas and in the
cached :class:`~pydantic.TypeAdapter` of each filter path): nothing is checked in Python per row or per value,
and the JSON schemas, so the OpenAPI document, publish them (``minimum``/``maximum``/``maxLength``/``pattern``).
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Optional, ParamSpec, TypeVar, cast

from pydantic import AwareDatetime, BeforeValidator, Field, Strict, TypeAdapter
from sqlalchemy import BigInteger, Enum, Integer, Numeric, SmallInteger, String
from sqlalchemy.types import TypeDecorator, TypeEngine

from fastmango.db.compiler import model_info

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _cache(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """``functools.cache`` keeping the signature for type checkers (models are hashable classes)."""
    return cast(Callable[_P, _R], cache(function))


_INT_BOUNDS = [
    (SmallInteger, 2**15),
    (BigInteger, 2**63),
    (Integer, 2**31),
]
#: Any text a column can hold: a NUL or a lone surrogate (which pydantic-core cannot read as UTF-8) fails it.
TEXT_PATTERN = r"^[^\x00]*$"
#: The instants a UTC column can hold: converting a date-time with an offset to UTC must stay in years 1..9999.
UTC_MIN = datetime.datetime.min.replace(tzinfo=datetime.UTC)
UTC_MAX = datetime.datetime.max.replace(tzinfo=datetime.UTC)
#: What ``__year``, ``__month`` and ``__day`` compare with.
TRANSFORM_BOUNDS = {"year": (1, 9999), "month": (1, 12), "day": (1, 31)}
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _iso_text(value: Any) -> Any:
    if isinstance(value, int | float | decimal.Decimal) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("expected ISO 8601 text (2025-01-31, 2025-01-31T09:30:00Z), not a number")
    return value


def _json_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError("expected true or false")


def _json_number(value: Any) -> Any:
    if isinstance(value, str | bool):
        raise ValueError("expected a JSON number")
    return value


#: An integer or number in a body not from a string or a boolean (``2.0`` is an integer, as JSON Schema says).
JSON_NUMBER = BeforeValidator(_json_number)
#: A date or date-time only from ISO 8601 text (or a date/datetime object), as the JSON schema says.
ISO_TEXT = BeforeValidator(_iso_text)
#: A boolean only from ``true``/``false`` (any case) or a bool, as the OpenAPI document says.
JSON_BOOLEAN = BeforeValidator(_json_boolean)


def column(model: type[Any], path: str) -> Any:
    """The column a ``relation__field`` path (or ``pk``) of ``model`` ends at."""
    parts = path.split("__")
    info = model_info(model)
    for part in parts[:-1]:
        info = model_info(info.relations[part].mapper.class_)
    name = info.pk_name if parts[-1] == "pk" else parts[-1]
    return info.mapper.columns[name]


@_cache
def python_type(model: type[Any], path: str) -> type[Any]:
    """The Python type of the column a ``relation__field`` path ends at (``str`` when the type names none)."""
    for kind in (column(model, path).type, sql_type(model, path)):  # SQLModel's AutoString says object
        try:
            if kind.python_type is not object:
                return kind.python_type
        except NotImplementedError:
            pass
    return str


def sql_type(model: type[Any], path: str) -> TypeEngine[Any]:
    """The SQL type of the column a path ends at, unwrapped (SQLModel's ``AutoString`` is a ``String``)."""
    kind = column(model, path).type
    while isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    return kind  # type: ignore[no-any-return]


def integer_bounds(model: type[Any], path: str) -> tuple[int, int] | None:
    """``(min, max)`` of an integer column's SQL type, or None for other columns."""
    try:
        kind = sql_type(model, path)
    except KeyError:
        return None
    for integer_type, limit in _INT_BOUNDS:
        if isinstance(kind, integer_type):
            return -limit, limit - 1
    return None


def is_utc(model: type[Any], path: str) -> bool:
    """Whether the column a path ends at stores UTC date-times (every ``datetime`` field of a model)."""
    from fastmango.db.types import UTCDateTime

    return isinstance(column(model, path).type, UTCDateTime)


def aware(model: type[Any], name: str, annotation: Any) -> Any:
    """A body field's annotation: ``AwareDatetime`` for a UTC column's ``datetime``, so one without an offset is a 422.

    A body states the instant it means; a filter's date-time without an offset is read as UTC (:func:`utc_moment`).
    """
    from fastmango.db.types import UTCDateTime

    field_column = model_info(model).mapper.columns.get(name)
    if field_column is None or not isinstance(field_column.type, UTCDateTime):
        return annotation
    if annotation is datetime.datetime:
        return AwareDatetime
    if annotation == datetime.datetime | None or annotation == Optional[datetime.datetime]:  # noqa: UP045
        return AwareDatetime | None
    return annotation


def utc_moment(value: Any) -> Any:
    """A filter's date-time for a UTC column: one without an offset means UTC, as the column stores it."""
    if isinstance(value, datetime.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)
    return value


def _is_text(sql_type: Any) -> bool:
    return isinstance(sql_type, String) and not isinstance(sql_type, Enum)


@_cache
def constraints(model: type[Any], path: str) -> tuple[Any, ...]:
    """The pydantic metadata bounding the values of a column (``Annotated[<its type>, *constraints]``)."""
    try:
        kind = sql_type(model, path)
    except KeyError:  # a field without a column of its own
        return ()
    bounds = integer_bounds(model, path)
    if bounds is not None:
        return (Field(ge=bounds[0], le=bounds[1]),)
    if is_utc(model, path):
        return (Field(ge=UTC_MIN, le=UTC_MAX),)
    if _is_text(kind):
        return (Field(pattern=TEXT_PATTERN, max_length=kind.length),)  # type: ignore[attr-defined]
    if isinstance(kind, Numeric) and python_type(model, path) is decimal.Decimal and kind.precision:
        return (Field(max_digits=kind.precision, decimal_places=kind.scale, allow_inf_nan=False),)
    return ()


@_cache
def value_adapter(model: type[Any], path: str) -> TypeAdapter[Any]:
    """Validates one value of the column a path ends at, from a string (a filter) or JSON (a cursor)."""
    metadata = constraints(model, path)
    kind: Any = python_type(model, path)
    # Last: a before-validator wrapping the constraints leaves them compiled into the type's own validator.
    if kind in (datetime.date, datetime.datetime):
        metadata = (*metadata, ISO_TEXT)
    elif kind is bool:
        metadata = (*metadata, JSON_BOOLEAN)
    return TypeAdapter(Annotated[kind, *metadata] if metadata else kind)


@_cache
def key_adapter(model: type[Any]) -> TypeAdapter[Any]:
    """Validates a primary key decoded from JSON (a cursor): an integer key must be a JSON integer in range."""
    name = model_info(model).pk_name
    if python_type(model, name) is int:
        return TypeAdapter(Annotated[int, Strict(), *constraints(model, name)])
    return value_adapter(model, name)


@_cache
def transform_adapter(transform: str) -> TypeAdapter[int]:
    """Validates what ``__year`` (``__month``, ``__day``) compares with."""
    low, high = TRANSFORM_BOUNDS[transform]
    return TypeAdapter(Annotated[int, Field(ge=low, le=high)])


_PARAMETER_SCHEMAS: dict[type, dict[str, str]] = {
    float: {"type": "number"},
    bool: {"type": "boolean"},
    datetime.date: {"type": "string", "format": "date"},
    datetime.datetime: {"type": "string", "format": "date-time"},
    decimal.Decimal: {"type": "string", "pattern": r"^-?\d{1,18}(\.\d{1,12})?$"},
}


def parameter_schema(model: type[Any], path: str) -> dict[str, Any]:
    """The OpenAPI schema of a query parameter holding one value of the column a path ends at."""
    kind = python_type(model, path)
    bounds = integer_bounds(model, path)
    if bounds is not None:
        return {"type": "integer", "minimum": bounds[0], "maximum": bounds[1]}
    base = sql_type(model, path)
    if _is_text(base):
        schema: dict[str, Any] = {"type": "string", "pattern": TEXT_PATTERN}
        return schema | ({"maxLength": base.length} if base.length else {})  # type: ignore[attr-defined]
    if kind is decimal.Decimal and isinstance(base, Numeric) and base.precision:
        places = base.scale or 0
        whole = base.precision - places
        number = rf"\d{{1,{whole}}}" if whole > 0 else "0"
        fraction = rf"(\.\d{{1,{places}}})?" if places else ""
        return {"type": "string", "pattern": f"^-?{number}{fraction}$"}
    return dict(_PARAMETER_SCHEMAS.get(kind, {"type": "string"}))
