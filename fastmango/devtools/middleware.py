"""ASGI middleware that opens a record for each request: method, path, matched route, status, headers, user.

The record's id goes back in ``X-Debug-Record`` (beside ``X-Request-ID``), so a JSON client finds the record of
a response in the panel without anything injected into the body.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastmango.core import recorder
from fastmango.core.debug_page import MASK, looks_secret, secret_header
from fastmango.devtools import watchers
from fastmango.devtools.watchers import MAX_TEXT_LENGTH, bounded

HEADER = b"x-debug-record"


class RecordingMiddleware:
    """Records each request but the panel's own; with ``staff_only``, keeps the records of staff users only."""

    def __init__(self, app: ASGIApp, panel_path: str = "/_debug", staff_only: bool = False) -> None:
        self.app = app
        self.panel_path = panel_path.rstrip("/")
        self.staff_only = staff_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == self.panel_path or path.startswith(self.panel_path + "/"):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        path = bounded(path, MAX_TEXT_LENGTH)
        query = masked_query(scope.get("query_string", b"").decode("latin-1"))
        async with recorder.recording(
            "request", f"{method} {path}", method=method, path=path, query=query, headers=headers_of(scope)
        ) as record:
            if record is None:
                await self.app(scope, receive, send)
                return

            async def send_recorded(message: Message) -> None:
                if message["type"] == "http.response.start":
                    record.status = message["status"]
                    headers = message.get("headers", [])
                    record.meta["response_headers"] = _masked(headers)
                    if not self.staff_only or _staff(scope):  # only those whose record is kept learn of it
                        message["headers"] = [*headers, (HEADER, record.id.encode())]
                await send(message)

            try:
                await self.app(scope, receive, send_recorded)
            except BaseException as exc:
                record.status = record.status or 500
                record.meta["error"] = bounded(f"{type(exc).__name__}: {exc}", MAX_TEXT_LENGTH)
                raise
            finally:
                _finish(record, scope, self.staff_only)


# Statements of a request are its own: the search for the user code that ran one stops here.
watchers.STOP_AT.add(RecordingMiddleware.__call__.__code__)


def headers_of(scope: Scope) -> dict[str, str]:
    """The request's headers, secret values masked, long ones cut."""
    return _masked(scope.get("headers", []))


def masked_query(query: str) -> str:
    """``query`` (a query string) with the values of secret-looking names (``access_token``, ``password``) and the
    tokens in it masked, cut to :data:`~fastmango.devtools.watchers.MAX_TEXT_LENGTH`."""
    if not query:
        return query
    parts = []
    for part in query.split("&"):
        name, equals, _ = part.partition("=")
        parts.append(f"{name}={MASK}" if equals and looks_secret(unquote_plus(name)) else part)
    return bounded("&".join(parts), MAX_TEXT_LENGTH)


def _staff(scope: Scope) -> bool:
    user: Any = scope.get("state", {}).get("user")
    return bool(getattr(user, "is_staff", False) or getattr(user, "is_superuser", False))


def _finish(record: recorder.Record, scope: Scope, staff_only: bool) -> None:
    route = scope.get("route")
    template = getattr(route, "path", None)
    if template:
        record.meta["route"] = template
        record.name = f"{scope['method']} {template}"
    user: Any = scope.get("state", {}).get("user")
    if getattr(user, "is_authenticated", False):
        record.user = getattr(user, "username", None) or str(getattr(user, "id", ""))
    if staff_only and not _staff(scope):
        record.keep = False


def _masked(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    shown: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name, secret = _header_name(raw_name)
        value = MASK if secret else bounded(raw_value.decode("latin-1"))
        shown[name] = f"{shown[name]}, {value}" if name in shown else value
    return shown


@functools.lru_cache(maxsize=512)
def _header_name(raw_name: bytes) -> tuple[str, bool]:
    """A header's name as shown and whether its value is a secret: the same few names come with every request."""
    name = raw_name.decode("latin-1").lower()
    return name, secret_header(name)
