"""Errors of the ORM. Each model also has its own ``DoesNotExist`` and ``MultipleObjectsReturned``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exc as sa_exc

from fastmango.core.errors import FastMangoError


class ObjectDoesNotExist(FastMangoError):
    """``get()`` found no row. ``Book.DoesNotExist`` subclasses it."""


class MultipleObjectsReturned(FastMangoError):
    """``get()`` found more than one row. ``Book.MultipleObjectsReturned`` subclasses it."""


class FieldError(FastMangoError, ValueError):
    """A query names a field, relation or lookup that does not exist; the message lists what does."""


class ModelDefinitionError(FastMangoError, TypeError):
    """A model declaration cannot be mapped: an annotation names a type that is not defined (or not a model)."""


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


class DatabaseUnavailable(FastMangoError):
    """The database cannot be used now: connection refused, a connect, pool or statement timeout, the server gone
    mid-request. Answered 503 with ``Retry-After``; the request may be retried.

    Attributes:
        reason: What happened, naming no host, statement or value (``connection refused``, ``statement timeout``).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"the database is unavailable: {reason}")
        self.reason = reason


class IntegrityError(FastMangoError):
    """The database refused a write: a unique, foreign key, NOT NULL or check constraint.

    The message says once what was refused and how to fix it, naming the constraint (on SQLite, which names
    none for a foreign key, the table and column of the foreign key, found from the models and the statement).

    Attributes:
        constraint: The constraint's name; where the database gives none, the columns it covers
            (``book.author_id``); None when not even they are known.
        kind: ``unique``, ``foreign_key``, ``not_null``, ``check`` or ``unknown``.
        table: The table of the constraint (for a foreign key, the referencing table), when known.
        columns: Its columns in that table, when known.
        public_message: The same refusal naming only the fields (no constraint or table), for clients in prod.
    """

    def __init__(
        self,
        message: str,
        *,
        constraint: str | None = None,
        kind: str = "unknown",
        table: str | None = None,
        columns: tuple[str, ...] = (),
        public_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.constraint = constraint
        self.kind = kind
        self.table = table
        self.columns = columns
        self.public_message = public_message or "The database refused the write: a constraint does not allow it."


_SQLITE_PATTERNS = [
    (re.compile(r"UNIQUE constraint failed: (.+)"), "unique"),
    (re.compile(r"NOT NULL constraint failed: (.+)"), "not_null"),
    (re.compile(r"CHECK constraint failed: (.+)"), "check"),
    (re.compile(r"FOREIGN KEY constraint failed()"), "foreign_key"),
]
_PG_KINDS = {"23505": "unique", "23503": "foreign_key", "23502": "not_null", "23514": "check"}
_NAME = r'(?:"[^"]+"|[\w$]+)(?:\.(?:"[^"]+"|[\w$]+))?'
_INSERT = re.compile(rf"^\s*INSERT\s+(?:OR\s+\w+\s+)?INTO\s+({_NAME})\s*\(([^)]*)\)", re.IGNORECASE)
_UPDATE = re.compile(rf"^\s*UPDATE\s+({_NAME})\s+SET\s+(.*?)(?:\s+WHERE\s|\s+RETURNING\s|$)", re.IGNORECASE | re.DOTALL)
_DELETE = re.compile(rf"^\s*DELETE\s+FROM\s+({_NAME})", re.IGNORECASE)
_PG_KEY = re.compile(r"^Key \((.+?)\)=")
# A foreign key that the database resolves itself on delete never refuses one.
_RESOLVED_ON_DELETE = {"CASCADE", "SET NULL", "SET DEFAULT"}


@dataclass
class _Violation:
    kind: str
    name: str | None = None
    table: str | None = None
    columns: tuple[str, ...] = ()
    referred: str | None = None  # foreign key: "author.id"
    incoming: bool = False  # foreign key: the write removed or changed a row that others still reference
    candidates: list[_Violation] = field(default_factory=list)  # foreign key: each the statement may have broken


def integrity_error_from(exc: Any) -> IntegrityError:
    """Translate a SQLAlchemy ``IntegrityError`` (or an object with the driver's error as ``orig`` and the SQL as
    ``statement``) into fastmango's, naming the constraint and saying how to fix the write."""
    original = getattr(exc, "orig", None)
    cause = getattr(original, "__cause__", None) or original
    sqlstate = getattr(cause, "sqlstate", None) or getattr(original, "sqlstate", None)
    statement = getattr(exc, "statement", None)
    text = str(original or exc).splitlines()[0]
    try:
        if sqlstate in _PG_KINDS:
            violation = _from_postgres(_PG_KINDS[sqlstate], cause, text)
        else:
            found = _from_sqlite(text, statement, getattr(exc, "params", None))
            if found is None:
                return IntegrityError(f"The database refused the write: {text}.")
            violation = found
    except Exception:  # an unexpected message or statement: say what the database said, once
        kind = _PG_KINDS.get(str(sqlstate), "unknown")
        return IntegrityError(f"The database refused the write: {text}.", kind=kind)
    return IntegrityError(
        _describe(violation),
        constraint=violation.name or _label(violation),
        kind=violation.kind,
        table=violation.table,
        columns=violation.columns,
        public_message=_describe_public(violation),
    )


def _from_postgres(kind: str, cause: Any, text: str) -> _Violation:
    name = getattr(cause, "constraint_name", None)
    table = getattr(cause, "table_name", None)
    detail = getattr(cause, "detail", None) or ""
    key = _PG_KEY.match(detail)
    columns = tuple(part.strip().strip('"') for part in key[1].split(",")) if key else ()
    if kind == "not_null":
        column = getattr(cause, "column_name", None)
        return _Violation(kind, None, table, (column,) if column else ())
    if kind != "foreign_key":
        return _Violation(kind, name, table, columns)
    incoming = "still referenced" in detail or text.startswith("update or delete")
    known = _foreign_key_named(table, name)
    if known is not None:
        known.name, known.incoming = name, incoming
        return known
    # Not among the models: what the database says. Incoming, its key columns are those of the referenced table.
    return _Violation(kind, name, table, () if incoming else columns, incoming=incoming)


def _from_sqlite(text: str, statement: str | None, params: Any) -> _Violation | None:
    for pattern, kind in _SQLITE_PATTERNS:
        match = pattern.search(text)
        if match is None:
            continue
        if kind == "foreign_key":
            return _sqlite_foreign_key(statement, params)
        target = match[1].strip()
        if kind == "check":
            return _Violation(kind, target, _written_table(statement))
        if target.startswith("index "):  # a unique index on expressions: SQLite names the index
            return _Violation(kind, target.removeprefix("index ").strip("'\""))
        pairs = [part.strip().rsplit(".", 1) for part in target.split(",")]
        table = pairs[0][0] if len(pairs[0]) == 2 else None
        columns = tuple(pair[-1] for pair in pairs)
        name = _unique_named(table, columns) if kind == "unique" else None
        return _Violation(kind, name, table, columns)
    return None


def _sqlite_foreign_key(statement: str | None, params: Any) -> _Violation:
    """SQLite says only that a foreign key failed: the ones the statement can have broken, from the models."""
    operation, table, written = _parse(statement)
    candidates: list[_Violation] = []
    if operation in ("insert", "update") and table is not None:
        values = _non_null(written, params) if operation == "insert" else set(written)
        candidates = [fk for fk in _foreign_keys_of(table) if set(fk.columns) & values]
    if not candidates and operation in ("delete", "update") and table is not None:
        candidates = _foreign_keys_to(table, deleting=operation == "delete")
    if len(candidates) == 1:
        return candidates[0]
    return _Violation("foreign_key", table=table if operation != "delete" else None, candidates=candidates)


def _parse(statement: str | None) -> tuple[str | None, str | None, tuple[str, ...]]:
    """``(operation, table, columns written)`` of an INSERT, UPDATE or DELETE statement."""
    if not statement:
        return None, None, ()
    if match := _INSERT.match(statement):
        return "insert", _bare(match[1]), tuple(_bare(c) for c in match[2].split(","))
    if match := _UPDATE.match(statement):
        return "update", _bare(match[1]), tuple(_bare(c) for c in re.findall(rf"(?:^|,)\s*({_NAME})\s*=", match[2]))
    if match := _DELETE.match(statement):
        return "delete", _bare(match[1]), ()
    return None, None, ()


def _written_table(statement: str | None) -> str | None:
    return _parse(statement)[1]


def _bare(name: str) -> str:
    """``main."book"`` -> ``book``."""
    return name.strip().rsplit(".", 1)[-1].strip('"')


def _non_null(columns: tuple[str, ...], params: Any) -> set[str]:
    """The columns an INSERT gives a value other than NULL (NULL never breaks a foreign key); all when unknown."""
    if isinstance(params, dict):
        return {c for c in columns if params.get(c, 0) is not None}
    rows = params if isinstance(params, list) and params and isinstance(params[0], (tuple, dict)) else [params]
    found: set[str] = set()
    for row in rows:
        if isinstance(row, dict):
            found |= {c for c in columns if row.get(c, 0) is not None}
        elif isinstance(row, tuple) and columns and len(row) % len(columns) == 0:
            found |= {columns[i % len(columns)] for i, value in enumerate(row) if value is not None}
        else:
            return set(columns)
    return found


def _tables() -> dict[str, Any]:
    from sqlmodel import SQLModel

    return {table.name: table for table in SQLModel.metadata.tables.values()}


def _foreign_key(table: Any, constraint: Any) -> _Violation:
    columns = tuple(element.parent.name for element in constraint.elements)
    referred = ", ".join(f"{element.column.table.name}.{element.column.name}" for element in constraint.elements)
    name = constraint.name if isinstance(constraint.name, str) else None
    return _Violation("foreign_key", name, table.name, columns, referred)


def _foreign_keys_of(table_name: str) -> list[_Violation]:
    table = _tables().get(table_name)
    found = [] if table is None else [_foreign_key(table, fk) for fk in table.foreign_key_constraints]
    return sorted(found, key=lambda fk: fk.columns)  # a set in SQLAlchemy: the same order every time


def _foreign_keys_to(table_name: str, *, deleting: bool) -> list[_Violation]:
    found = []
    for table in _tables().values():
        for fk in table.foreign_key_constraints:
            resolved = deleting and str(fk.ondelete or "").upper() in _RESOLVED_ON_DELETE
            if fk.referred_table.name == table_name and not resolved:
                violation = _foreign_key(table, fk)
                violation.incoming = True
                found.append(violation)
    return sorted(found, key=lambda fk: (fk.table or "", fk.columns))


def _foreign_key_named(table_name: str | None, name: str | None) -> _Violation | None:
    """The model's foreign key PostgreSQL names ``name``: by its declared name or PostgreSQL's default one."""
    for fk in _foreign_keys_of(table_name or ""):
        if name in (fk.name, f"{fk.table}_{'_'.join(fk.columns)}_fkey"[:63]):
            return fk
    return None


def _unique_named(table_name: str | None, columns: tuple[str, ...]) -> str | None:
    """The declared name of the unique constraint or index of the model's ``table_name`` on ``columns``."""
    table = _tables().get(table_name or "")
    if table is None:
        return None
    from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint

    keys = [c for c in table.constraints if isinstance(c, (UniqueConstraint, PrimaryKeyConstraint))]
    for item in [*keys, *(index for index in table.indexes if index.unique)]:
        if {column.name for column in item.columns} == set(columns) and isinstance(item.name, str):
            return item.name
    return None


def _label(violation: _Violation) -> str | None:
    """``book.author_id`` (or ``book.author_id, book.title``): the columns, when the constraint has no name."""
    if violation.candidates:
        return " | ".join(filter(None, (_label(c) for c in violation.candidates))) or None
    if violation.table and violation.columns:
        return ", ".join(f"{violation.table}.{column}" for column in violation.columns)
    return None


def _describe(v: _Violation) -> str:
    """One sentence on what was refused, naming the constraint, and one on how to fix it."""
    columns = " and ".join(v.columns)
    where = f"{v.table}.{v.columns[0]}" if v.table and len(v.columns) == 1 else v.table or "the row"
    if v.kind == "unique":
        named = f"unique constraint {v.name}" if v.name else f"unique constraint on {_label(v) or 'its columns'}"
        values = f"this {columns}" if columns else "these values"
        rows = f"{v.table} row" if v.table else "row"
        fix = f"another {columns}" if len(v.columns) == 1 else f"other values of {columns}" if columns else "others"
        return f"Another {rows} already has {values} ({named}). Send {fix}, or change the existing row."
    if v.kind == "not_null":
        return f"{where} may not be null (NOT NULL constraint). Send a value for {columns or 'it'}."
    if v.kind == "check":
        table = v.table or "its table"
        return f"The row breaks the check constraint {v.name or '(unnamed)'} of {table}. Send values it accepts."
    if v.candidates:
        listed = "; ".join(_foreign_key_phrase(c) for c in v.candidates)
        return (
            f"A foreign key refused the write; SQLite does not say which, it is one of: {listed}. "
            "Refer only to rows that exist, and delete or re-point rows that refer to a row before deleting it."
        )
    if not v.table and not v.columns:
        return (
            "A foreign key refused the write: a row refers to a row that does not exist, or a deleted row is "
            "still referenced. Refer only to rows that exist."
        )
    if v.incoming:
        target = f"The {v.referred.split('.')[0]} row" if v.referred else "The row"
        return (
            f"{target} is still referenced by {_label(v) or v.table} ({_foreign_key_phrase(v)}). "
            f"Delete those {v.table} rows, or point them at another row, first."
        )
    if not v.referred:
        return f"{_label(v)} refers to a row that does not exist ({_foreign_key_phrase(v)}). Send an existing key."
    return (
        f"{_label(v)} refers to a row of {v.referred.split('.')[0]} that does not exist ({_foreign_key_phrase(v)}). "
        f"Send an existing {v.referred}."
    )


def _describe_public(v: _Violation) -> str:
    """What :func:`_describe` says, naming the fields only: no constraint, table or referenced table."""
    fields = " and ".join(v.columns)
    if v.kind == "unique":
        if not fields:
            return "Another row already has these values. Send others, or change the existing row."
        fix = f"another {fields}" if len(v.columns) == 1 else f"other values of {fields}"
        return f"Another row already has this {fields}. Send {fix}, or change the existing row."
    if v.kind == "not_null":
        return f"{fields or 'A field'} may not be null. Send a value for {fields or 'it'}."
    if v.kind == "check":
        return "The values break a check of this resource. Send values it accepts."
    if v.kind != "foreign_key" or v.candidates or not v.columns:
        return (
            "The write refers to a row that does not exist, or removes a row that others still refer to. "
            "Refer only to rows that exist."
        )
    if v.incoming:
        return f"Other rows still refer to this one (by {fields}). Delete or re-point them first."
    return f"{fields} refers to a row that does not exist. Send an existing one."


def _foreign_key_phrase(v: _Violation) -> str:
    """``foreign key book_author_id_fkey`` or, unnamed, ``foreign key book.author_id -> author.id``."""
    if v.name:
        return f"foreign key {v.name}"
    return f"foreign key {_label(v)} -> {v.referred}" if v.referred else f"foreign key {_label(v)}"
