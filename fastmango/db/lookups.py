"""Field lookups (``title__icontains="x"``) and transforms (``published__year=2024``) as SQL conditions.

A lookup gets the column, the value (to decide the SQL's form: ``None`` is ``IS NULL``, an empty list matches
nothing) and ``bind``, which returns the parameter standing for the value in the statement: the statement is
planned once per shape (:mod:`fastmango.db.plans`) and each run binds its own values. ``bind(transform)`` binds
``transform(value)`` instead (the escaped pattern of ``contains``, one bound of a ``range``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import ColumnElement, extract, false, func

from fastmango.db.errors import FieldError


class Bind(Protocol):
    def __call__(self, transform: Callable[[Any], Any] | None = None, *, expanding: bool = False) -> Any: ...


Lookup = Callable[[Any, Any, Bind], ColumnElement[bool]]
_ESCAPE = "/"


def _sequence(name: str, value: Any) -> list[Any]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise FieldError(f"the {name} lookup takes a list of values, got {value!r}")
    return list(value)


def _exact(column: Any, value: Any, bind: Bind) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = column.is_(None) if value is None else column == bind()
    return condition


def _iexact(column: Any, value: Any, bind: Bind) -> ColumnElement[bool]:
    return column.is_(None) if value is None else func.lower(column) == func.lower(bind())


def _in(column: Any, value: Any, bind: Bind) -> ColumnElement[bool]:
    if not _sequence("in", value):
        return false()
    return column.in_(bind(list, expanding=True))  # type: ignore[no-any-return]


def _range(column: Any, value: Any, bind: Bind) -> ColumnElement[bool]:
    bounds = _sequence("range", value)
    if len(bounds) != 2:
        raise FieldError(f"the range lookup takes two values (low, high), got {value!r}")
    return column.between(bind(_low), bind(_high))  # type: ignore[no-any-return]


def _low(bounds: Any) -> Any:
    return list(bounds)[0]  # noqa: RUF015 (a range's bounds may be any iterable of two)


def _high(bounds: Any) -> Any:
    return list(bounds)[1]


def _isnull(column: Any, value: Any, bind: Bind) -> ColumnElement[bool]:
    if not isinstance(value, bool):
        raise FieldError(f"the isnull lookup takes True or False, got {value!r}")
    condition: ColumnElement[bool] = column.is_(None) if value else column.is_not(None)
    return condition


def escape_like(value: str) -> str:
    """``value`` with LIKE's wildcards and the escape character escaped."""
    return value.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")


def _text(name: str, before: str, after: str, *, insensitive: bool) -> Lookup:
    def pattern(value: str) -> str:
        return f"{before}{escape_like(value)}{after}"

    def lookup(column: Any, value: Any, bind: Bind) -> ColumnElement[bool]:
        if not isinstance(value, str):
            raise FieldError(f"the {name} lookup takes a string, got {value!r}")
        if insensitive:
            return func.lower(column).like(func.lower(bind(pattern)), escape=_ESCAPE)
        return column.like(bind(pattern), escape=_ESCAPE)  # type: ignore[no-any-return]

    return lookup


LOOKUPS: dict[str, Lookup] = {
    "exact": _exact,
    "iexact": _iexact,
    "contains": _text("contains", "%", "%", insensitive=False),
    "icontains": _text("icontains", "%", "%", insensitive=True),
    "startswith": _text("startswith", "", "%", insensitive=False),
    "istartswith": _text("istartswith", "", "%", insensitive=True),
    "endswith": _text("endswith", "%", "", insensitive=False),
    "iendswith": _text("iendswith", "%", "", insensitive=True),
    "in": _in,
    "gt": lambda column, value, bind: column > bind(),
    "gte": lambda column, value, bind: column >= bind(),
    "lt": lambda column, value, bind: column < bind(),
    "lte": lambda column, value, bind: column <= bind(),
    "range": _range,
    "isnull": _isnull,
}

TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "year": lambda column: extract("year", column),
    "month": lambda column: extract("month", column),
    "day": lambda column: extract("day", column),
}


def lookup_name(key: str) -> str:
    """The lookup a filter key ends with: ``title__icontains`` -> ``icontains``; ``exact`` when it names none."""
    _, _, last = key.rpartition("__")
    return last if last in LOOKUPS and "__" in key else "exact"


def binds_value(key: str, value: Any) -> bool:
    """Whether the value of filter ``key`` is a statement parameter; otherwise it decides the SQL's form
    (``None``, ``isnull``'s bool, an empty list) and is part of the plan's shape. Expressions are never bound."""
    if value is None:
        return False
    name = lookup_name(key)
    if name == "isnull":
        return False
    if name == "in" and hasattr(value, "__len__") and not isinstance(value, (str, bytes)) and not len(value):
        return False
    return not getattr(value, "fastmango_expression", False)


def apply_lookup(column: Any, parts: list[str], value: Any, field: str, bind: Bind) -> ColumnElement[bool]:
    """Apply transforms then one lookup (``exact`` when ``parts`` ends with a transform or is empty)."""
    for index, part in enumerate(parts):
        if part in TRANSFORMS:
            column = TRANSFORMS[part](column)
            continue
        if part in LOOKUPS and index == len(parts) - 1:
            return LOOKUPS[part](column, value, bind)
        known = ", ".join([*LOOKUPS, *TRANSFORMS])
        raise FieldError(f"unknown lookup {part!r} on {field!r}; lookups are: {known}")
    return _exact(column, value, bind)
