"""Answering exceptions that escape the routes' handlers without closing the client's connection.

Starlette's ``ServerErrorMiddleware`` answers an unhandled exception with the app's 500 handler and then raises it
again to the server, which closes the keep-alive connection: the client's next request on it fails (ECONNRESET),
``/health`` included. :class:`UnhandledErrorMiddleware` sits inside ``RequestIdMiddleware`` and answers such an
exception with the app's handler for its class (an error raised by a middleware, such as a database outage during
authentication, gets its own problem response; anything else the 500 handler's, which logs it once with the request
id), and does not raise it again.
"""

from __future__ import annotations

import inspect
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: A scope key: when true, exceptions go on to the server (or test client) as Starlette lets them, after the
#: response. For test clients that re-raise app exceptions (``httpx.ASGITransport(raise_app_exceptions=True)``).
RAISE_APP_EXCEPTIONS = "fastmango.raise_app_exceptions"


class UnhandledErrorMiddleware:
    """Answers an exception no handler took with the app's handler for it, and keeps the connection usable.

    Once the response has started nothing else can be sent: the exception goes on to the server, which must drop
    the connection (the client has a truncated response).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get(RAISE_APP_EXCEPTIONS):
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            handler = _handler_for(getattr(scope.get("app"), "exception_handlers", {}), exc)
            if started or handler is None:
                raise
            response = handler(Request(scope, receive), exc)
            if inspect.isawaitable(response):
                response = await response
            await response(scope, receive, send)


def _handler_for(handlers: dict[Any, Any], exc: Exception) -> Any:
    """The handler registered for the nearest class of ``exc`` (``Exception``: the 500 handler), or None."""
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None
