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
