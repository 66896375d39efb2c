"""Wires the database into a FastMango app: configured from settings, checked at start-up, closed at shutdown,
and its errors answered as problem details (404 not found, 409 integrity, 400 bad value)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request
from sqlalchemy import exc as sa_exc

from fastmango.core.plugins import BasePlugin
from fastmango.core.problems import ProblemResponse, problem, problem_type
from fastmango.db import engine
from fastmango.db.errors import IntegrityError, ObjectDoesNotExist

if TYPE_CHECKING:
    from fastmango.core.app import FastMango


class DatabasePlugin(BasePlugin):
    """Connects ``settings.database_url`` for the app's lifetime."""

    name = "db"

    def install(self, app: FastMango) -> None:
        app.add_exception_handler(ObjectDoesNotExist, _not_found)
        app.add_exception_handler(IntegrityError, _conflict)
        app.add_exception_handler(sa_exc.IntegrityError, _conflict)
        app.add_exception_handler(sa_exc.DataError, _bad_value)

    def configure(self, app: FastMango) -> None:
        settings = app.settings
        app.state.database = engine.configure(
            settings.database_url, echo=settings.database_echo, pool_size=settings.database_pool_size
        )

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
    extensions: dict[str, Any] = {
        "constraint": exc.constraint,
        "constraint_kind": exc.kind,
        "table": exc.table,
        "columns": list(exc.columns),
    }
    return problem(request, 409, str(exc), title="Conflict", type=problem_type("integrity"), **extensions)


async def _bad_value(request: Request, exc: Exception) -> ProblemResponse:
    # The database refused a value (out of range for its column, a NUL byte in text...): the caller's mistake.
    original = getattr(exc, "orig", None)
    reason = str(original or exc).splitlines()[0].split(": ", 1)[-1]
    return problem(
        request, 400, f"The database refused a value: {reason}", title="Bad value", type=problem_type("bad-value")
    )
