"""Wires the database into a FastMango app: configured from settings, checked at start-up, closed at shutdown,
and its errors answered as problem details (404 not found, 409 integrity, 400 bad value, 503 unavailable)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi import Request
from sqlalchemy import exc as sa_exc
from starlette.responses import Response

from fastmango.core.plugins import BasePlugin
from fastmango.core.problems import ProblemResponse, problem, problem_type
from fastmango.db import engine, execute
from fastmango.db.errors import DatabaseUnavailable, IntegrityError, ObjectDoesNotExist
from fastmango.db.pg_errors import unavailable_reason
from fastmango.db.server_timing import ServerTimingMiddleware

logger = logging.getLogger("fastmango.db")

#: Seconds a client is told to wait (``Retry-After``) when the database is unavailable.
RETRY_AFTER_SECONDS = 5

if TYPE_CHECKING:
    from fastmango.core.app import FastMango


class DatabasePlugin(BasePlugin):
    """Connects ``settings.database_url`` for the app's lifetime."""

    name = "db"

    def install(self, app: FastMango) -> None:
        if app.settings.debug and app.settings.env != "prod":
            app.add_middleware(ServerTimingMiddleware)
        app.add_exception_handler(ObjectDoesNotExist, _not_found)
        app.add_exception_handler(IntegrityError, _conflict)
        app.add_exception_handler(sa_exc.IntegrityError, _conflict)
        app.add_exception_handler(sa_exc.DataError, _bad_value)
        app.add_exception_handler(DatabaseUnavailable, _unavailable)
        app.add_exception_handler(sa_exc.TimeoutError, _unavailable)  # the pool's: no connection became free
        app.add_exception_handler(sa_exc.DBAPIError, _database_error)

    def configure(self, app: FastMango) -> None:
        settings = app.settings
        app.state.database = engine.configure(
            settings.database_url,
            echo=settings.database_echo,
            pool_size=settings.database_pool_size,
            connect_timeout=settings.database_connect_timeout,
            pool_timeout=settings.database_pool_timeout,
            statement_timeout=settings.database_statement_timeout,
        )
        execute.configure_plan_cache(settings.database_plan_cache_size)

    async def startup(self, app: FastMango) -> None:
        await app.state.database.ping()

    async def shutdown(self, app: FastMango) -> None:
        await engine.disconnect()


async def _not_found(request: Request, exc: Exception) -> ProblemResponse:
    return problem(request, 404, str(exc) or "Not found.", title="Not found")


async def _conflict(request: Request, exc: Exception) -> ProblemResponse:
    if not isinstance(exc, IntegrityError):
        from fastmango.db.errors import integrity_error_from

        exc = integrity_error_from(exc)
    assert isinstance(exc, IntegrityError)
    if not _debug(request):
        # Constraint and table names are the schema's internals: outside DEBUG the client learns the fields.
        extensions: dict[str, Any] = {"constraint_kind": exc.kind, "columns": list(exc.columns)}
        return problem(request, 409, exc.public_message, title="Conflict", type=problem_type("integrity"), **extensions)
    extensions = {
        "constraint": exc.constraint,
        "constraint_kind": exc.kind,
        "table": exc.table,
        "columns": list(exc.columns),
    }
    return problem(request, 409, str(exc), title="Conflict", type=problem_type("integrity"), **extensions)


async def _unavailable(request: Request, exc: Exception) -> ProblemResponse:
    reason = unavailable_reason(exc) or "unavailable"
    logger.warning("database unavailable (%s): %s %s answered 503", reason, request.method, request.url.path)
    detail = f"The database is unavailable; retry after {RETRY_AFTER_SECONDS} seconds."
    if _debug(request):
        detail += f" ({reason})"
    return problem(
        request,
        503,
        detail,
        title="Database unavailable",
        type=problem_type("database-unavailable"),
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        retry_after=RETRY_AFTER_SECONDS,
    )


async def _database_error(request: Request, exc: Exception) -> Response:
    """A driver error no more specific handler took: an outage (503), a refused value (400), or a bug (500)."""
    if unavailable_reason(exc) is not None:
        return await _unavailable(request, exc)
    if _refused_value(exc):
        return await _bad_value(request, exc)
    unhandled = request.app.exception_handlers.get(Exception)
    if unhandled is None:
        raise exc
    response: Response = await unhandled(request, exc)
    return response


def _refused_value(exc: Exception) -> bool:
    """PostgreSQL's data exceptions (SQLSTATE class 22: out of range, bad syntax, NUL byte...) and asyncpg's own
    refusal to encode a value: the caller's values, not the code, are wrong."""
    original = getattr(exc, "orig", None)
    cause = getattr(original, "__cause__", None) or original
    state = getattr(cause, "sqlstate", None) or getattr(original, "sqlstate", None)
    if isinstance(state, str):
        return state.startswith("22")
    return type(cause).__name__ == "DataError" and type(cause).__module__.startswith("asyncpg")


def _debug(request: Request) -> bool:
    settings = getattr(request.app.state, "settings", None)
    return bool(settings is not None and settings.debug)


async def _bad_value(request: Request, exc: Exception) -> ProblemResponse:
    # The database refused a value (out of range for its column, a NUL byte in text...): the caller's mistake.
    original = getattr(exc, "orig", None)
    # Outside SQL echo the driver's message has its values cut out (fastmango.db.pg_errors).
    reason = str(original or exc).splitlines()[0]
    return problem(
        request, 400, f"The database refused a value: {reason}", title="Bad value", type=problem_type("bad-value")
    )
