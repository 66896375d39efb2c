"""The live-logs API: ``<admin_path>/api/monitoring/logs/stream`` (server-sent events) and ``.../logs/recent``.

Both are for staff with ``monitoring.view`` and take the same filters: ``level`` (the minimum, a name),
``logger`` (a logger and its children) and ``request_id``. The event shapes are in docs/monitoring.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query

from fastmango.core.errors import ProblemError
from fastmango.monitoring.logstream import LEVELS, LogStream, TooManyClients
from fastmango.monitoring.permissions import VIEW, require
from fastmango.monitoring.routing import add_before_admin_fallback

if TYPE_CHECKING:
    from fastmango.core.app import FastMango
    from fastmango.core.settings import Settings


def parse_level(level: str | None) -> int:
    """The number of the level named ``level`` (any case; None: every level); 400 naming the valid ones."""
    if level is None or level == "":
        return 0
    number = LEVELS.get(level.upper())
    if number is None:
        valid = list(LEVELS)
        raise ProblemError(
            400,
            f"Unknown level {level!r}; use one of {', '.join(valid)}.",
            title="Bad Request",
            errors=[{"loc": ["query", "level"], "msg": f"must be one of {', '.join(valid)}", "input": level}],
        )
    return number


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def logstream_router(stream: LogStream, settings: Settings) -> APIRouter:
    """The live-logs routes over ``stream``, under ``settings.admin_path``."""
    prefix = f"{settings.admin_path.rstrip('/')}/api/monitoring/logs"
    # Under the admin's API, which stays out of the app's OpenAPI document as the admin's own routes do.
    router = APIRouter(prefix=prefix, tags=["monitoring"], include_in_schema=False)
    ping = settings.logstream_ping_seconds
    send_timeout = settings.logstream_send_timeout

    @router.get("/stream", summary="Live log records (server-sent events)")
    async def logs_stream(
        level: str | None = Query(None, description="The lowest level: DEBUG, INFO, WARNING, ERROR or CRITICAL."),
        logger: str | None = Query(None, description="A logger name; its children match too."),
        request_id: str | None = Query(None, description="Only the records of this request."),
        _user: Any = require(VIEW),
    ) -> Any:
        from sse_starlette import EventSourceResponse, ServerSentEvent

        levelno = parse_level(level)
        try:
            client = stream.connect(levelno, logger, request_id)
        except TooManyClients as exc:
            raise ProblemError(
                503, f"{exc} log viewers are connected to this process; try again later.", headers={"Retry-After": "5"}
            ) from exc
        filters = {"level": level.upper() if level else None, "logger": logger or None, "request_id": request_id}

        async def events() -> AsyncIterator[dict[str, Any]]:
            try:
                yield {"event": "ready", "data": _json({"filters": filters, **stream.status()})}
                if stream.redis_up is False:
                    yield {"event": "status", "data": _json(stream.status())}
                while not client.dropped:
                    kind, data = await client.queue.get()
                    if kind == "close":
                        break
                    if kind == "log":
                        yield {"event": "log", "id": data["id"], "data": _json(data)}
                    else:
                        yield {"event": kind, "data": _json(data)}
            finally:
                stream.disconnect(client)

        def heartbeat() -> Any:
            return ServerSentEvent(event="ping", data=_json({"time": _now()}))

        return EventSourceResponse(
            events(),
            ping=ping,
            ping_message_factory=heartbeat,
            send_timeout=send_timeout,
            headers={"Cache-Control": "no-store"},
        )

    @router.get("/recent", summary="The newest log records")
    async def logs_recent(
        level: str | None = Query(None, description="The lowest level: DEBUG, INFO, WARNING, ERROR or CRITICAL."),
        logger: str | None = Query(None, description="A logger name; its children match too."),
        request_id: str | None = Query(None, description="Only the records of this request."),
        limit: int = Query(100, ge=1, le=10_000, description="Records at most (the newest)."),
        _user: Any = require(VIEW),
    ) -> dict[str, Any]:
        levelno = parse_level(level)
        records, source = await stream.history(limit, levelno, logger or None, request_id or None)
        return {"records": records, "source": source, "clients": stream.clients, **stream.status()}

    return router


def install_logstream(app: FastMango) -> LogStream | None:
    """Add the live-logs routes to ``app`` and return its :class:`LogStream` (None when ``logstream`` is off).

    Call it from the monitoring plugin's ``install``; ``await stream.start()`` in its ``startup`` and
    ``await stream.stop()`` in its ``shutdown``. Calling it again for the same app returns the same stream.
    """
    existing: LogStream | None = getattr(app.state, "logstream", None)
    if existing is not None or not app.settings.logstream:
        return existing
    stream = LogStream.from_settings(app.settings)
    add_before_admin_fallback(app, logstream_router(stream, app.settings))
    app.state.logstream = stream
    return stream
