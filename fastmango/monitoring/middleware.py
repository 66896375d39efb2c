"""HTTP metrics: each request counted by route template, method and status, timed, and its statements counted.

The route is the template the router matched (``scope["route"].path``: ``/books/{pk}``, not ``/books/7``), so a
million ids make one series; a request no route matched counts as ``<unmatched>``. The hot path is a few dict
increments: no await, no Redis.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastmango.monitoring.collectors import request_statements
from fastmango.monitoring.metrics import Registry

UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    """Counts every HTTP request into ``registry``."""

    def __init__(self, app: ASGIApp, registry: Registry) -> None:
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        registry = self.registry
        gauges = registry.gauges
        gauges["http_requests_in_flight"] += 1
        statements = [0]
        token = request_statements.set(statements)
        status = 500  # unless a response starts: an exception escaping the app is answered 500 further out
        started = time.perf_counter()

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            elapsed = time.perf_counter() - started
            request_statements.reset(token)
            gauges["http_requests_in_flight"] -= 1
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            method = scope["method"]
            if method not in METHODS:
                method = "OTHER"
            registry.inc("http_requests", (template, method, str(status)))
            registry.observe("http_request_duration_seconds", (template, method), elapsed)
            registry.observe("db_statements_per_request", (), statements[0])
