"""Serialize rows straight to JSON: list and detail reads skip model instances and validate nothing twice."""

from __future__ import annotations

import decimal
from typing import Any

import orjson

#: Datetimes exactly as Pydantic writes them (``/auth/me``, tool results, the task API), so one row reads the same
#: on every surface: UTC as ``2025-01-31T09:30:00Z``, another offset as ``+02:00``, a naive value (a
#: ``NaiveDatetime`` field) with no offset.
_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)  # as Pydantic serializes Decimal: a string, exact
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"cannot serialize {type(value).__name__}")


def dumps(payload: Any) -> bytes:
    """JSON bytes of dicts, lists, dates, Decimals (as strings) and UUIDs; datetimes as Pydantic writes them."""
    return orjson.dumps(payload, default=_default, option=_OPTIONS)
