"""Response envelopes for lists: limit/offset pages with a total, or cursor pages for large tables."""

from __future__ import annotations

import base64
import binascii
import json
from functools import cache
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter, create_model

from fastmango.core.errors import ProblemError
from fastmango.core.problems import problem_type


@cache
def page_schema(item: type[BaseModel]) -> type[BaseModel]:
    """``{items, total, limit, offset}`` of ``item``."""
    return create_model(
        f"{item.__name__}Page",
        items=(list[item], ...),  # type: ignore[valid-type]
        total=(int, Field(description="Rows matching the filters, across all pages.")),
        limit=(int, ...),
        offset=(int, ...),
    )


@cache
def cursor_page_schema(item: type[BaseModel]) -> type[BaseModel]:
    """``{items, next, limit}`` of ``item``: pass ``next`` as ``?cursor=`` for the following page."""
    return create_model(
        f"{item.__name__}CursorPage",
        items=(list[item], ...),  # type: ignore[valid-type]
        next=(str | None, Field(description="The cursor of the next page; null on the last page.")),
        limit=(int, ...),
    )


#: Characters of a cursor at most (one this API makes holds one primary key: 64 for a UUID).
MAX_CURSOR_LENGTH = 1024


def encode_cursor(value: Any) -> str:
    """An opaque cursor for the primary key ``value``."""
    return base64.urlsafe_b64encode(json.dumps({"after": value}, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, key: type[Any] | TypeAdapter[Any] | None = None) -> Any:
    """The primary key a cursor stands for. A cursor this API did not make (or of another key type) is a 400.

    Args:
        cursor: The ``?cursor=`` value.
        key: What the key must be: a :class:`~pydantic.TypeAdapter` (``fastmango.api.bounds.key_adapter``:
            the key column's type and range) or ``int``.
    """
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
        if key is int and (not isinstance(value, int) or isinstance(value, bool)):
            raise TypeError("not an integer key")
        if isinstance(key, TypeAdapter):
            value = key.validate_python(value)
        return value
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        # ValidationError is a ValueError: a key out of the column's range is a cursor this API did not make.
        raise ProblemError(
            400,
            "The cursor is not valid; use the `next` value of a previous page.",
            title="Bad cursor",
            type=problem_type("bad-query-parameter"),
            parameter="cursor",
        ) from None
