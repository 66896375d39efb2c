"""ASGI middleware that gives every request an id, logs it, and returns it as ``X-Request-ID``."""

from __future__ import annotations

import logging
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastmango.core.logging import request_id_var

HEADER = "x-request-id"
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,128}")
access_logger = logging.getLogger("fastmango.request")


class RequestIdMiddleware:
    """Reuses a well-formed incoming ``X-Request-ID`` (from a proxy) or makes a new one.

    The id is available to log records and to code as :data:`fastmango.core.logging.request_id_var`, and
    every request is logged once when its response starts: method, path, status, duration.
    """

    def __init__(self, app: ASGIApp, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = incoming if _ACCEPTED.fullmatch(incoming) else os.urandom(16).hex()
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.access_log and access_logger.isEnabledFor(logging.INFO):
                access_logger.info(
                    "%s %s %d %.1fms",
                    scope["method"],
                    # Escaped: a decoded %0A in the path must not forge a second log line.
                    scope["path"].encode("unicode_escape").decode("ascii"),
                    status,
                    (time.perf_counter() - start) * 1000,
                )
            request_id_var.reset(token)
