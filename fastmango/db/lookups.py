"""Field lookups (``title__icontains="x"``) and transforms (``published__year=2024``) as SQL conditions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, extract, false, func

from fastmango.db.errors import FieldError


def _sequence(name: str, value: Any) -> list[Any]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise FieldError(f"the {name} lookup takes a list of values, got {value!r}")
    return list(value)


def _exact(column: Any, value: Any) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _iexact(column: Any, value: Any) -> ColumnElement[bool]:
    return column.is_(None) if value is None else func.lower(column) == func.lower(value)


def _in(column: Any, value: Any) -> ColumnElement[bool]:
    values = _sequence("in", value)
    return column.in_(values) if values else false()


def _range(column: Any, value: Any) -> ColumnElement[bool]:
    bounds = _sequence("range", value)
    if len(bounds) != 2:
        raise FieldError(f"the range lookup takes two values (low, high), got {value!r}")
    return column.between(bounds[0], bounds[1])


def _isnull(column: Any, value: Any) -> ColumnElement[bool]:
    if not isinstance(value, bool):
        raise FieldError(f"the isnull lookup takes True or False, got {value!r}")
    return column.is_(None) if value else column.is_not(None)


def _text(name: str, method: str) -> Callable[[Any, Any], ColumnElement[bool]]:
    def lookup(column: Any, value: Any) -> ColumnElement[bool]:
        if not isinstance(value, str):
            raise FieldError(f"the {name} lookup takes a string, got {value!r}")
        return getattr(column, method)(value, autoescape=True)  # type: ignore[no-any-return]

    return lookup


LOOKUPS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "exact": _exact,
    "iexact": _iexact,
    "contains": _text("contains", "contains"),
    "icontains": _text("icontains", "icontains"),
    "startswith": _text("startswith", "startswith"),
    "istartswith": _text("istartswith", "istartswith"),
    "endswith": _text("endswith", "endswith"),
    "iendswith": _text("iendswith", "iendswith"),
    "in": _in,
    "gt": lambda column, value: column > value,
    "gte": lambda column, value: column >= value,
    "lt": lambda column, value: column < value,
    "lte": lambda column, value: column <= value,
    "range": _range,
    "isnull": _isnull,
}

TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "year": lambda column: extract("year", column),
    "month": lambda column: extract("month", column),
    "day": lambda column: extract("day", column),
}


def apply_lookup(column: Any, parts: list[str], value: Any, field: str) -> ColumnElement[bool]:
    """Apply transforms then one lookup (``exact`` when ``parts`` ends with a transform or is empty)."""
    for index, part in enumerate(parts):
        if part in TRANSFORMS:
            column = TRANSFORMS[part](column)
            continue
        if part in LOOKUPS and index == len(parts) - 1:
            return LOOKUPS[part](column, value)
        known = ", ".join([*LOOKUPS, *TRANSFORMS])
        raise FieldError(f"unknown lookup {part!r} on {field!r}; lookups are: {known}")
    return _exact(column, value)
