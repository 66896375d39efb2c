"""Errors of the ORM. Each model also has its own ``DoesNotExist`` and ``MultipleObjectsReturned``."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import exc as sa_exc

from fastmango.core.errors import FastMangoError


class ObjectDoesNotExist(FastMangoError):
    """``get()`` found no row. ``Book.DoesNotExist`` subclasses it."""


class MultipleObjectsReturned(FastMangoError):
    """``get()`` found more than one row. ``Book.MultipleObjectsReturned`` subclasses it."""


class FieldError(FastMangoError, ValueError):
    """A query names a field, relation or lookup that does not exist; the message lists what does."""


class NaiveDatetimeError(FastMangoError, ValueError):
    """A datetime without a time zone was given to a UTC column (every ``datetime`` field of a ``Model``)."""


class NotLoaded(FastMangoError, sa_exc.InvalidRequestError):
    """An attribute was read that the query did not load (the ORM never loads behind your back)."""


class RelationNotLoaded(NotLoaded):
    """A relation was read that the query did not load. Load it with ``select_related``/``prefetch_related``."""


class FieldNotLoaded(NotLoaded):
    """A column was read that ``only()`` left out."""


class TransactionError(FastMangoError):
    """A transaction was used wrongly (for example an operation that needs one ran outside it)."""


class IntegrityError(FastMangoError):
    """The database refused a write: a unique, foreign key, NOT NULL or check constraint.

    Attributes:
        constraint: The constraint's name, or the columns it covers, when the database says.
        kind: ``unique``, ``foreign_key``, ``not_null``, ``check`` or ``unknown``.
    """

    def __init__(self, message: str, *, constraint: str | None = None, kind: str = "unknown") -> None:
        super().__init__(message)
        self.constraint = constraint
        self.kind = kind


_SQLITE_PATTERNS = [
    (re.compile(r"UNIQUE constraint failed: (.+)"), "unique"),
    (re.compile(r"NOT NULL constraint failed: (.+)"), "not_null"),
    (re.compile(r"CHECK constraint failed: (.+)"), "check"),
    (re.compile(r"FOREIGN KEY constraint failed()"), "foreign_key"),
]
_PG_KINDS = {"23505": "unique", "23503": "foreign_key", "23502": "not_null", "23514": "check"}


def integrity_error_from(exc: Any) -> IntegrityError:
    """Translate a SQLAlchemy ``IntegrityError`` into fastmango's, naming the constraint."""
    original = getattr(exc, "orig", None)
    cause = getattr(original, "__cause__", None) or original
    sqlstate = getattr(cause, "sqlstate", None) or getattr(original, "sqlstate", None)
    if sqlstate in _PG_KINDS:
        kind = _PG_KINDS[sqlstate]
        constraint = getattr(cause, "constraint_name", None)
        if kind == "not_null":
            column = getattr(cause, "column_name", None)
            table = getattr(cause, "table_name", None)
            constraint = f"{table}.{column}" if table and column else constraint
        detail = getattr(cause, "detail", None) or str(cause).splitlines()[0]
        return IntegrityError(_message(kind, constraint, detail), constraint=constraint, kind=kind)
    text = str(original or exc).splitlines()[0]
    for pattern, kind in _SQLITE_PATTERNS:
        match = pattern.search(text)
        if match:
            constraint = match.group(1) or None
            return IntegrityError(_message(kind, constraint, text), constraint=constraint, kind=kind)
    return IntegrityError(f"the database refused the write: {text}")


def _message(kind: str, constraint: str | None, detail: str) -> str:
    label = {"unique": "unique", "foreign_key": "foreign key", "not_null": "NOT NULL", "check": "check"}[kind]
    named = f" {constraint}" if constraint else ""
    return f"{label} constraint{named} failed: {detail}"
