"""Answering exceptions that escape the routes' handlers without closing the client's connection.

Starlette's ``ServerErrorMiddleware`` answers an unhandled exception with the app's 500 handler and then raises it
again to the server, which closes the keep-alive connection: the client's next request on it fails (ECONNRESET),
``/health`` included. :class:`fastmango.core.request_middleware.RequestMiddleware` answers such an exception with
the app's handler for its class (:func:`handler_for`: an error raised by a middleware, such as a database outage
during authentication, gets its own problem response; anything else the 500 handler's, which logs it once with the
request id), and does not raise it again. Once the response has started nothing else can be sent: the exception
goes on to the server, which must drop the connection (the client has a truncated response).
"""

from __future__ import annotations

from typing import Any

from starlette.types import Scope

#: A scope key: when true, exceptions go on to the server (or test client) as Starlette lets them, after the
#: response. For test clients that re-raise app exceptions (``httpx.ASGITransport(raise_app_exceptions=True)``).
RAISE_APP_EXCEPTIONS = "fastmango.raise_app_exceptions"


def handler_for(scope: Scope, exc: Exception) -> Any:
    """The app's handler registered for the nearest class of ``exc`` (``Exception``: the 500 handler), or None."""
    handlers: dict[Any, Any] = getattr(scope.get("app"), "exception_handlers", {})
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None
