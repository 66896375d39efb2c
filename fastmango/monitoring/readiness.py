"""Readiness: ``GET /ready`` says whether this process can take traffic now; ``/health`` only says it is alive.

A load balancer or an orchestrator (a Kubernetes readiness probe, a Docker HEALTHCHECK, fly.io's checks) sends
traffic to a process while ``/ready`` answers 200, and holds it back while it answers 503; ``/health`` stays 200
as long as the process runs, so a database outage does not get every web process restarted.

The checks, run concurrently and each bounded by ``settings.ready_timeout_seconds``:

- ``database``: ``SELECT 1`` on a pooled connection (a full pool counts as not ready too);
- ``redis`` (when ``REDIS_URL`` is set): ``PING``;
- ``worker`` (when tasks run on arq): the live ``fastmango worker`` processes, from their heartbeats. None alive
  is a ``warn`` that leaves the process ready (its requests still work; jobs wait in the queue), unless
  ``settings.ready_require_worker`` is on.

200 answers ``{"status": "ok", "checks": {name: {"status": "ok", "ms": ...}, ...}}``; 503 answers problem details
(``application/problem+json``) naming the failed checks in ``detail`` and carrying the same ``checks``. A failed
check says ``"error": "timed out after 0.5 s"`` or the exception's class, never a host name or a message from the
driver (the endpoint is public); the log has the full reason. Requests that arrive while the checks run share
their result, so a burst of probes costs one round of checks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from starlette.requests import Request

from fastmango.core.problems import problem, problem_responses, problem_type

if TYPE_CHECKING:
    from fastmango.core.app import FastMango
    from fastmango.core.settings import Settings

logger = logging.getLogger("fastmango.monitoring")

READY_PATH = "/ready"

#: A check returns extra fields for its entry (``{"live": 2}``) and raises when the dependency is not usable.
Check = Callable[[], Awaitable[dict[str, Any]]]


class NotReady(Exception):
    """A check's dependency answered, but not usably (no live worker while one is required)."""


class Readiness:
    """The readiness checks of one app.

    Args:
        settings: The app's settings (``redis_url``, ``ready_timeout_seconds``, ``ready_require_worker``).
        checks: Checks to run instead of the defaults (tests, or an app adding its own), by name.
    """

    def __init__(self, settings: Settings, checks: dict[str, Check] | None = None) -> None:
        self.timeout = settings.ready_timeout_seconds
        self.require_worker = settings.ready_require_worker
        self.redis_url = settings.redis_url
        self.settings = settings
        self.checks = checks if checks is not None else self.default_checks()
        self._running: asyncio.Future[tuple[bool, dict[str, dict[str, Any]]]] | None = None

    def default_checks(self) -> dict[str, Check]:
        """The database always; Redis when configured; the worker when tasks run on arq."""
        checks: dict[str, Check] = {"database": check_database}
        if self.redis_url:
            checks["redis"] = self.check_redis
        if self._tasks_use_arq():
            checks["worker"] = self.check_worker
        return checks

    def _tasks_use_arq(self) -> bool:
        from fastmango.core.errors import ImproperlyConfigured
        from fastmango.tasks.backends import backend_name

        try:
            return backend_name(self.settings) == "arq"
        except ImproperlyConfigured:  # arq asked for without Redis: the app refuses to start anyway
            return False

    async def check_redis(self) -> dict[str, Any]:
        """``PING`` on a connection of its own, closed after (a probe every few seconds; no pool to keep)."""
        from fastmango.core.redis import redis_client

        assert self.redis_url is not None
        client = redis_client(self.redis_url, socket_timeout=self.timeout)
        try:
            await client.ping()
        finally:
            await client.aclose()
        return {}

    async def check_worker(self) -> dict[str, Any]:
        """The live workers of the queue; none alive fails only when ``ready_require_worker`` is on."""
        from fastmango.tasks.backends import get_backend

        workers = await get_backend().workers()
        live = len(workers or [])
        if live:
            return {"live": live}
        if self.require_worker:
            raise NotReady("no live worker")
        return {"live": 0, "status": "warn", "detail": "no live worker: jobs wait in the queue"}

    async def run(self) -> tuple[bool, dict[str, dict[str, Any]]]:
        """Run the checks (or join the round in progress); whether every check passed, and each one's entry."""
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._run_all())
        return await asyncio.shield(self._running)

    async def _run_all(self) -> tuple[bool, dict[str, dict[str, Any]]]:
        names = list(self.checks)
        results = await asyncio.gather(*(self._run_one(name, self.checks[name]) for name in names))
        entries = dict(zip(names, results, strict=True))
        return all(entry["status"] != "down" for entry in entries.values()), entries

    async def _run_one(self, name: str, check: Check) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            extra = await asyncio.wait_for(check(), self.timeout)
        except TimeoutError:
            logger.warning("readiness: %s did not answer within %g s", name, self.timeout)
            return {"status": "down", "ms": _ms(started), "error": f"timed out after {self.timeout:g} s"}
        except NotReady as exc:
            logger.warning("readiness: %s: %s", name, exc)
            return {"status": "down", "ms": _ms(started), "error": str(exc)}
        except Exception as exc:
            logger.warning("readiness: %s failed: %s: %s", name, type(exc).__name__, _first_line(exc))
            return {"status": "down", "ms": _ms(started), "error": _public_reason(exc)}
        return {"status": "ok", "ms": _ms(started), **extra}


async def check_database() -> dict[str, Any]:
    """``SELECT 1`` on a pooled autocommit connection of the app's database."""
    from sqlalchemy import text

    from fastmango.db.engine import get_database

    async with get_database().autocommit_engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return {}


def readiness_router(readiness: Readiness) -> APIRouter:
    """``GET /ready``, beside ``/health`` in the OpenAPI document (tag ``health``)."""
    router = APIRouter(tags=["health"])

    @router.get(
        READY_PATH,
        operation_id="ready",
        summary="Readiness check",
        response_model=None,
        responses=problem_responses(503),
    )
    async def ready(request: Request) -> Response:
        """200 when the database, Redis and (when required) a task worker answer; 503 naming what does not."""
        ok, checks = await readiness.run()
        if ok:
            return JSONResponse({"status": "ok", "checks": checks}, headers={"Cache-Control": "no-store"})
        failed = [name for name, entry in checks.items() if entry["status"] == "down"]
        return problem(
            request,
            503,
            f"not ready: {', '.join(failed)} failed",
            title="Not ready",
            type=problem_type("service-unavailable"),
            headers={"Cache-Control": "no-store"},
            checks=checks,
        )

    return router


def install_readiness(app: FastMango) -> Readiness:
    """Add ``/ready`` to ``app``; the :class:`Readiness` it serves (also ``app.state.readiness``)."""
    readiness = app.state.readiness = Readiness(app.settings)
    app.add_plugin_routes(readiness_router(readiness))
    return readiness


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else ""


def _public_reason(exc: BaseException) -> str:
    """What a failed check says publicly: the exception's class (``ConnectionRefusedError``), not its message."""
    cause = exc.__cause__ or exc.__context__
    name = type(exc).__name__
    return name if cause is None or isinstance(cause, type(exc)) else f"{name} ({type(cause).__name__})"
