"""``Server-Timing`` on every response in DEBUG: the request's SQL statements (count and time) and the app's time.

Browsers' developer tools show it beside each request (the Timing tab), JSON APIs included, without anything
injected into the body: ``Server-Timing: db;dur=3.2;desc="4 queries", app;dur=11.8``. The statements are the
query hook's (every route, the direct asyncpg one included), counted for the request whose task ran them. Off
outside DEBUG: timings tell an attacker what a request costs.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastmango.db import hook

_current: ContextVar[list[float] | None] = ContextVar("fastmango_request_queries", default=None)


def _count(query: hook.QueryEvent) -> None:
    found = _current.get()
    if found is not None:
        found.append(query.duration)


class ServerTimingMiddleware:
    """Adds ``Server-Timing`` (``db`` statements and their time, ``app`` time until the response started)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        hook.subscribe_once(_count)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        durations: list[float] = []
        token = _current.set(durations)
        started = time.perf_counter()

        async def send_with_timing(message: Message) -> None:
            if message["type"] == "http.response.start":
                total = (time.perf_counter() - started) * 1000
                database = sum(durations) * 1000
                plural = "query" if len(durations) == 1 else "queries"
                value = f'db;dur={database:.1f};desc="{len(durations)} {plural}", app;dur={total:.1f}'
                message["headers"] = [*message.get("headers", []), (b"server-timing", value.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_timing)
        finally:
            _current.reset(token)
