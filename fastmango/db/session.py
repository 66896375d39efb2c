"""Session scope and transactions.

Outside a transaction each terminal QuerySet call uses a short session on an autocommit connection
(Django's autocommit). ``async with transaction():`` binds one session for the block, commits on success
and rolls back on error; nested blocks are savepoints. The bound session lives in a context variable, so
it follows the code through ``await`` but not into tasks created with ``asyncio.create_task``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession

from fastmango.db.engine import get_database
from fastmango.db.errors import TransactionError, integrity_error_from


@dataclass
class _Transaction:
    session: AsyncSession
    task: asyncio.Task[Any] | None
    on_commit: list[Callable[[], Any]] = field(default_factory=list)


def _state() -> _Transaction | None:
    """The enclosing transaction, checked to belong to the running task.

    Tasks created inside ``transaction()`` inherit its context but must not use its session: one
    session cannot run two statements at once, and a write after the block ends would never commit.
    """
    state = _current.get()
    if state is not None and state.task is not asyncio.current_task():
        raise TransactionError(
            "the ORM was used from a task created inside transaction(); a transaction belongs to the task "
            "that opened it: await the work in that task, or open a transaction() in the new task"
        )
    return state


_background: set[asyncio.Future[Any]] = set()  # keeps scheduled on_commit callbacks alive until done
_current: ContextVar[_Transaction | None] = ContextVar("fastmango_transaction", default=None)


def in_transaction() -> bool:
    """Whether the calling code runs inside ``transaction()``."""
    state = _current.get()
    return state is not None and state.task is asyncio.current_task()


def current_session() -> AsyncSession | None:
    """The session bound by the enclosing ``transaction()``, or None."""
    state = _state()
    return state.session if state else None


@asynccontextmanager
async def transaction() -> AsyncIterator[AsyncSession]:
    """Run a block atomically: commit when it ends, roll back when it raises.

    Nested blocks become savepoints: an error inside one rolls back only that block (when caught).
    ``on_commit`` callbacks registered inside run after the outermost commit.

    Raises:
        IntegrityError: the commit violated a constraint (the block's writes are rolled back).
    """
    state = _state()
    if state is not None:
        registered = len(state.on_commit)
        try:
            async with state.session.begin_nested():
                yield state.session
        except BaseException as exc:
            del state.on_commit[registered:]  # callbacks of a rolled-back savepoint never run
            if isinstance(exc, sa_exc.IntegrityError):
                raise integrity_error_from(exc) from exc
            raise
        return
    database = get_database()
    session = database.sessions()
    state = _Transaction(session, asyncio.current_task())
    token = _current.set(state)
    try:
        try:
            async with session.begin():
                yield session
        except sa_exc.IntegrityError as exc:
            raise integrity_error_from(exc) from exc
    finally:
        _current.reset(token)
        await session.close()
    for callback in state.on_commit:
        result = callback()
        if isinstance(result, Awaitable):
            await result


def on_commit(callback: Callable[[], Any]) -> None:
    """Run ``callback`` (sync or async) after the enclosing transaction commits; at once outside one.

    Outside a transaction an async callback is scheduled as a task; ``await run_on_commit(callback)``
    awaits it instead.
    """
    state = _state()
    if state is not None:
        state.on_commit.append(callback)
        return
    result = callback()
    if isinstance(result, Awaitable):
        task = asyncio.ensure_future(result)
        _background.add(task)
        task.add_done_callback(_background.discard)


async def run_on_commit(callback: Callable[[], Any]) -> None:
    """Like :func:`on_commit`, but awaits an async callback when there is no transaction."""
    state = _state()
    if state is not None:
        state.on_commit.append(callback)
        return
    result = callback()
    if isinstance(result, Awaitable):
        await result


@asynccontextmanager
async def session_scope(*, atomic: bool = False, write: bool = False) -> AsyncIterator[AsyncSession]:
    """The session for one ORM operation.

    Inside ``transaction()`` that transaction's session (as a savepoint when ``atomic``). Outside, a short
    session: on the autocommit connection for single statements (committed when ``write``; a read just
    returns the connection), or in its own transaction when ``atomic`` (several statements that must all
    apply). Integrity errors become fastmango's.
    """
    state = _state()
    try:
        if state is not None:
            if atomic:
                async with state.session.begin_nested():
                    yield state.session
            else:
                yield state.session
            return
        database = get_database()
        if atomic:
            async with database.sessions() as session, session.begin():
                yield session
        else:
            async with database.autocommit_sessions() as session:
                yield session
                if write:
                    await session.commit()
    except sa_exc.IntegrityError as exc:
        raise integrity_error_from(exc) from exc


async def fetch_rows(statement: Any, params: dict[str, Any] | None = None, *, write: bool = False) -> list[Any]:
    """Run a Core statement that returns rows and return them, on the cheapest connection that is correct.

    Inside ``transaction()``: its session. Outside: a plain autocommit connection, no ORM session at all (the
    fast path of ``values()``, ``count()`` and the CRUD reads). ``write`` commits (a RETURNING insert...).
    """
    state = _state()
    try:
        if state is not None:
            return list((await state.session.execute(statement, params)).all())
        async with get_database().autocommit_engine.connect() as conn:
            rows = list((await conn.execute(statement, params)).all())
            if write:
                await conn.commit()
            return rows
    except sa_exc.IntegrityError as exc:
        raise integrity_error_from(exc) from exc


class PreparedRead:
    """A read statement built once; on PostgreSQL outside a transaction it runs on the pool's asyncpg
    connection directly, with the SQL compiled once, when its columns need no conversion by SQLAlchemy.

    Everywhere else (SQLite, inside ``transaction()``, columns with type processing) it runs like
    :func:`fetch_rows`. Rows support access by position either way.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: dict[int, tuple[str, list[str], dict[str, Any]] | None] = {}

    def _driver_form(self, database: Any) -> tuple[str, list[str], dict[str, Any]] | None:
        key = id(database)
        if key not in self._compiled:
            self._compiled[key] = _compile_for_driver(self.statement, database)
        return self._compiled[key]

    async def fetch(self, params: dict[str, Any] | None = None, *, write: bool = False) -> list[Any]:
        """The rows; ``write`` for a single-statement write with RETURNING (committed on its own)."""
        if _current.get() is None:
            database = get_database()
            if database.dialect == "postgresql":
                form = self._driver_form(database)
                if form is not None:
                    sql, order, defaults = form
                    values = {**defaults, **(params or {})}
                    raw = await database.engine.raw_connection()
                    try:
                        return list(await raw.driver_connection.fetch(sql, *[values[name] for name in order]))  # type: ignore[union-attr]
                    except Exception as exc:
                        if write:  # never run a write twice: report the driver's refusal as SQLAlchemy would
                            raise _driver_error(exc, sql) from exc
                        # A value the driver refuses on a read: SQLAlchemy runs it and raises the mapped error.
                    finally:
                        raw.close()
        return await fetch_rows(self.statement, params, write=write)


def _driver_error(exc: Exception, sql: str) -> Exception:
    """fastmango's IntegrityError or SQLAlchemy's DataError for an asyncpg refusal; other errors unchanged."""
    sqlstate = str(getattr(exc, "sqlstate", "") or "")
    if sqlstate.startswith("23"):
        return integrity_error_from(SimpleNamespace(orig=exc, statement=sql))
    if sqlstate.startswith("22") or type(exc).__name__ == "DataError":
        return sa_exc.DataError(sql, None, exc)
    return exc


def _compile_for_driver(statement: Any, database: Any) -> tuple[str, list[str], dict[str, Any]] | None:
    """The driver SQL, parameter order and literal values of ``statement``; None when a column or a parameter
    needs SQLAlchemy's type processing (then the statement always runs through SQLAlchemy)."""
    dialect = database.engine.dialect
    compiled = statement.compile(dialect=dialect)
    columns = getattr(statement, "selected_columns", None)
    for column in columns if columns is not None else statement._returning:
        try:
            processor = column.type._cached_result_processor(dialect, None)
        except Exception:  # a type that needs the database's type code to decide: let SQLAlchemy run it
            return None
        if processor is not None:
            return None
    if any(compiled._bind_processors.get(name) for name in compiled.positiontup or ()):
        return None
    return compiled.string, list(compiled.positiontup or ()), dict(compiled.params)
