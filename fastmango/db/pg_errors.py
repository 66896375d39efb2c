"""What the PostgreSQL driver's errors mean: outages told apart from mistakes, and values kept out of messages.

:func:`unavailable_reason` also knows SQLite's "database is locked" (the busy timeout ran out): an outage too.

:func:`install` hooks three SQLAlchemy events of a PostgreSQL engine:

- ``do_connect``: a connection refused or reset, a connect timeout, a server starting up, shutting down or out of
  connections raise :class:`~fastmango.db.errors.DatabaseUnavailable`;
- ``handle_error``: a server gone mid-request, a statement timeout (``57014``) or no answer within the client's
  command timeout raise it too. A connection that did not answer is invalidated with every other connection of the
  pool: each is replaced before its next use (or a request would wait the whole statement timeout on each), and
  until a new connection succeeds they are terminated rather than closed politely (which waits on the hung server).
  Bind values are cut out of the driver's messages (``Key (email)=(…) already exists``) unless SQL echo is on;
- ``checkout``: a pooled connection the driver already knows is closed (the server restarted) is replaced before
  use. That costs an attribute read, no round trip (``pool_pre_ping`` would cost one per checkout).

A checkout outside SQLAlchemy's greenlet (``fastmango.db.execute`` takes idle connections so) that would need I/O
to connect raises :class:`NeedsGreenlet` before any: the pool takes the connection back and the caller checks out
through the async engine instead.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util.concurrency import in_greenlet

from fastmango.db.errors import DatabaseUnavailable

# SQLSTATE classes of an outage: 08 connection exception, 53 insufficient resources (too many connections),
# 57P operator intervention (shutdown, crash, cannot connect now). 57014 is a cancelled statement (statement_timeout).
_OUTAGE_STATES = ("08", "53", "57P")
_STATEMENT_TIMEOUT = "57014"
_CLOSED = "connection is closed"


def unavailable_reason(exc: BaseException) -> str | None:
    """Why ``exc`` (or an error it was raised from) means the database is unavailable; None when it does not.

    The reason names no host, statement or value: ``connection refused``, ``statement timeout``...
    """
    for error in _chain(exc):
        if isinstance(error, DatabaseUnavailable):
            return error.reason
        if isinstance(error, sa_exc.TimeoutError):
            return "no pooled connection became free in time"
        state = getattr(error, "sqlstate", None)
        if isinstance(state, str):
            if state == _STATEMENT_TIMEOUT:
                return "statement timeout"
            if state.startswith(_OUTAGE_STATES):
                return "the server refused or ended the connection"
        if isinstance(error, TimeoutError):  # asyncpg's connect and command timeouts
            return "the server did not answer in time"
        if isinstance(error, ConnectionRefusedError):
            return "connection refused"
        if isinstance(error, OSError):
            return "the server cannot be reached"
        if type(error).__name__ == "ConnectionDoesNotExistError" or _CLOSED in str(error.args[0] if error.args else ""):
            return "the server closed the connection"
        if _is_broken_protocol(error):
            return "the connection broke"
        if _sqlite_locked(error):
            return "the database is locked"
    return None


# SQLite's primary result codes SQLITE_BUSY and SQLITE_LOCKED: another connection held the lock past the busy
# timeout. Like a PostgreSQL outage, the request may succeed when retried.
_SQLITE_BUSY_CODES = (5, 6)


def _sqlite_locked(error: BaseException) -> bool:
    if type(error).__module__ != "sqlite3" or type(error).__name__ != "OperationalError":
        return False
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_BUSY_CODES
    return "is locked" in str(error)


def _is_broken_protocol(error: BaseException) -> bool:
    """asyncpg's protocol is in a state no statement can follow: the server ended the session (a fatal error
    arrived between two statements) and the driver has not noticed the socket closing yet."""
    return type(error).__name__ == "InternalClientError" and "cannot switch to state" in str(error)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the driver error it wraps, and the errors it was raised from."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        error = pending.pop(0)
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        pending += [getattr(error, "orig", None), error.__cause__]


# Bind values in the driver's messages: constraint details, the client-side encoding error, and the server's
# input-syntax errors, which quote the value they refused.
_REDACTIONS = [
    (
        re.compile(
            r"(Key \(.*?\)=\().*(\) (?:already exists|is not present in table|is still referenced from table"
            r"|conflicts with existing key))",
            re.DOTALL,
        ),
        r"\1…\2",
    ),
    (re.compile(r"(Failing row contains \().*(\))", re.DOTALL), r"\1…\2"),
    (re.compile(r"(invalid input for query argument \$\d+): .*?((?: \([^()]*\))?)$", re.DOTALL), r"\1\2"),
    (re.compile(r'(: |value |Token |token )"(?:[^"]|"")*"', re.DOTALL), r'\1"…"'),
]


def redact_values(message: str) -> str:
    """``message`` with the values PostgreSQL or asyncpg quoted in it replaced by ``…``."""
    for pattern, replacement in _REDACTIONS:
        message = pattern.sub(replacement, message)
    return message


def _redact(exc: BaseException) -> None:
    for error in _chain(exc):
        if error.args and isinstance(error.args[0], str):
            error.args = (redact_values(error.args[0]), *error.args[1:])
        detail = getattr(error, "detail", None)
        if isinstance(detail, str):
            with contextlib.suppress(AttributeError):  # a read-only attribute: leave it
                error.detail = redact_values(detail)  # type: ignore[attr-defined]


class NeedsGreenlet(Exception):
    """A checkout outside the async engine's greenlet needs I/O (a new or replaced connection)."""


def install(engine: AsyncEngine, *, hide_values: bool) -> None:
    """Hook outage handling (and, with ``hide_values``, redaction) into a PostgreSQL ``engine``."""
    _Listeners(hide_values).listen(engine.sync_engine)


class _Listeners:
    def __init__(self, hide_values: bool) -> None:
        self.hide_values = hide_values
        self.unresponsive = False  # a connection did not answer; no new one has succeeded since

    def listen(self, sync_engine: Any) -> None:
        event.listen(sync_engine, "do_connect", self.do_connect)
        event.listen(sync_engine, "connect", self.connected)
        event.listen(sync_engine, "checkout", self.checkout)
        event.listen(sync_engine, "close", self.close)
        event.listen(sync_engine, "handle_error", self.handle_error)

    def do_connect(self, dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        if not in_greenlet():
            raise NeedsGreenlet
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as exc:
            reason = unavailable_reason(exc)
            if reason is None:
                raise
            raise DatabaseUnavailable(reason) from exc

    def connected(self, _dbapi_connection: Any, _record: Any) -> None:
        self.unresponsive = False

    def checkout(self, _dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.driver_connection.is_closed():
            if not in_greenlet():
                raise NeedsGreenlet
            # The pool replaces the connection (and retries) before anything runs on it.
            raise sa_exc.DisconnectionError("the server closed this pooled connection")

    def close(self, dbapi_connection: Any, _record: Any) -> None:
        if self.unresponsive:
            # A polite close would wait on the hung server (SQLAlchemy's terminate first tries one, for 2 s).
            driver = getattr(dbapi_connection, "driver_connection", None)
            if driver is not None:
                driver.terminate()

    def handle_error(self, context: ExceptionContext) -> BaseException | None:
        original = context.original_exception
        if self.hide_values:
            _redact(original)
            if context.sqlalchemy_exception is not None:
                _redact(context.sqlalchemy_exception)
        reason = unavailable_reason(original)
        if reason is None:
            return None
        hung = isinstance(original, TimeoutError)
        connection = context.connection
        broken = isinstance(original, OSError) or any(map(_is_broken_protocol, _chain(original)))
        if broken and connection is not None and not connection.invalidated:
            # No answer within the command timeout, a broken socket or protocol: drop this connection at once. When
            # the server is hung, replace the pool's others too before their next use.
            self.unresponsive = self.unresponsive or hung
            driver = connection.connection.driver_connection
            if driver is not None:
                driver.terminate()
            context.is_disconnect = True
            context.invalidate_pool_on_disconnect = hung
        return DatabaseUnavailable(reason)
