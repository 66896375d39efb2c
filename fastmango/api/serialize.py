"""Serialize rows straight to JSON: list and detail reads skip model instances and validate nothing twice."""

from __future__ import annotations

import decimal
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)  # as Pydantic serializes Decimal: a string, exact
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"cannot serialize {type(value).__name__}")


def dumps(payload: Any) -> bytes:
    """JSON bytes of dicts, lists, dates, Decimals (as strings) and UUIDs."""
    return orjson.dumps(payload, default=_default, option=_OPTIONS)


def nest(row: dict[str, Any], columns: list[str], relations: dict[str, tuple[str, list[str]]]) -> dict[str, Any]:
    """Shape a flat ``values()`` row (``author__name`` keys) as the read schema: ``{"author": {"name": ...}}``.

    ``relations`` maps a relation to its primary key name and columns; a missing related row (NULL key)
    becomes ``None``.
    """
    item = {name: row[name] for name in columns}
    for relation, (pk, fields) in relations.items():
        item[relation] = None if row[f"{relation}__{pk}"] is None else {f: row[f"{relation}__{f}"] for f in fields}
    return item
