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
