"""The query hook: every statement the database runs is reported once, whichever connection ran it.

Listeners get a :class:`QueryEvent` (SQL, parameters as given, duration, rows, shape key, connection kind).
``capture_queries()``, SQL echo and the debug and metrics layers subscribe here::

    with listening(events.append):
        await Post.objects.filter(published=True)

Statements that SQLAlchemy runs (sessions, Core connections) are reported from its cursor events; statements of
the pipeline's direct asyncpg route are reported by the runner. With no listener the cost is one list check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event

Listener = Callable[["QueryEvent"], None]
# Bind names holding these words carry secrets: their values are masked in logs (QueryEvent.loggable_params).
SECRET_MARKERS = ("password", "secret", "token", "api_key", "apikey", "hash")
MASK = "***"
_listeners: list[Listener] = []
shape_var: ContextVar[Any] = ContextVar("fastmango_query_shape", default=None)
logger = logging.getLogger("fastmango.db.sql")


# Not frozen (a frozen dataclass sets each field through object.__setattr__: 3x slower); eq=False keeps it hashable
# (by identity). Every listener gets the same event: listeners must not change it.
@dataclass(slots=True, eq=False)
class QueryEvent:
    """One statement the database ran (the same object for every listener: read it, do not change it).

    Attributes:
        sql: The SQL as sent to the driver.
        params: The parameters as given (a dict or a sequence; a list of them for an executemany).
        names: The bind names of positional ``params``, when known.
        duration: Seconds from send to result.
        rows: Rows returned or changed, when the driver tells.
        shape: The pipeline's shape key of the query (None for statements it did not plan).
        connection: ``"driver"`` (asyncpg directly) or ``"sqlalchemy"`` (a session or Core connection).
        executemany: One statement run with many parameter sets.
    """

    sql: str
    params: Any
    names: Sequence[str] | None
    duration: float
    rows: int | None
    shape: Any
    connection: str
    executemany: bool = False

    def loggable_params(self) -> Any:
        """``params`` with the values of secret-looking bind names (:data:`SECRET_MARKERS`) masked."""
        return _mask(self.params, self.names)


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call ``listener`` with every statement run from now on; returns the function that unsubscribes it."""
    _listeners.append(listener)
    return lambda: unsubscribe(listener)


def unsubscribe(listener: Listener) -> None:
    """Stop calling ``listener`` (nothing when it does not listen)."""
    if listener in _listeners:
        _listeners.remove(listener)


def subscribe_once(listener: Listener) -> None:
    """Subscribe ``listener`` unless it listens already (a module-level listener that several apps install)."""
    if listener not in _listeners:
        _listeners.append(listener)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """``with listening(fn):`` subscribes ``fn`` for the block."""
    unsubscribe = subscribe(listener)
    try:
        yield
    finally:
        unsubscribe()


def active() -> bool:
    """Whether anything listens (the runner skips timing work otherwise)."""
    return bool(_listeners)


def emit(query: QueryEvent) -> None:
    """Report ``query`` to every listener; a failing listener is logged, never breaks the query."""
    for listener in list(_listeners):
        try:
            listener(query)
        except Exception:
            logger.exception("a query listener failed")


def log_statement(query: QueryEvent) -> None:
    """The SQL echo listener: logs each statement with its (masked) parameters at INFO."""
    logger.info("%s [%s] %.3f ms", query.sql, query.loggable_params(), query.duration * 1000)


def echo() -> None:
    """Turn SQL echo on: :func:`log_statement` listens, and the ``fastmango.db.sql`` logger shows INFO."""
    subscribe_once(log_statement)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)


def install(sync_engine: Any) -> None:
    """Report the statements SQLAlchemy runs on ``sync_engine`` to the listeners."""
    event.listen(sync_engine, "before_cursor_execute", _before)
    event.listen(sync_engine, "after_cursor_execute", _after)


def _before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    if _listeners:
        conn.info["fastmango_started"] = time.perf_counter()


def _after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    if not _listeners:
        return
    started = conn.info.pop("fastmango_started", None)
    duration = time.perf_counter() - started if started is not None else 0.0
    compiled = getattr(context, "compiled", None)
    names = getattr(compiled, "positiontup", None) if compiled is not None else None
    rowcount = getattr(cursor, "rowcount", -1)
    emit(
        QueryEvent(
            sql=statement,
            params=parameters,
            names=list(names) if names else None,
            duration=duration,
            rows=rowcount if isinstance(rowcount, int) and rowcount >= 0 else None,
            shape=shape_var.get(),
            connection="sqlalchemy",
            executemany=executemany,
        )
    )


def _secret(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def _mask(params: Any, names: Sequence[str] | None) -> Any:
    if isinstance(params, dict):
        return {key: MASK if _secret(str(key)) else value for key, value in params.items()}
    if isinstance(params, list) and params and isinstance(params[0], (dict, tuple, list)):
        return [_mask(item, names) for item in params]
    if isinstance(params, (tuple, list)) and names:
        return type(params)(MASK if _secret(name) else value for name, value in zip(names, params, strict=False))
    return params
