"""ASGI middleware: ``request.state.user`` is the user of a Bearer token or HttpOnly cookie, or anonymous; each
request runs in a permission scope of its own (its permission checks cost one query per user)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from fastmango.auth.backend import AnonymousUser, AuthBackend
from fastmango.auth.errors import AuthUnavailable, NotAuthenticated
from fastmango.auth.permission_scope import permission_scope

COOKIE_NAME = "fastmango_access"
#: The user of every request without valid credentials (AnonymousUser holds no state of its own).
ANONYMOUS = AnonymousUser()


def token_from_scope(scope: Scope) -> str | None:
    """The access token of a request: ``Authorization: Bearer ...`` first, then the auth cookie."""
    cookie_header = ""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            token: str = credentials.strip()
            if scheme.lower() == "bearer" and token:
                return token
        elif name == b"cookie":
            cookie_header = value.decode("latin-1")
    for part in cookie_header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == COOKIE_NAME and value:
            return value
    return None


class AuthenticationMiddleware:
    """Resolves the user once per request, for code that does not use the auth dependencies.

    An invalid token leaves the user anonymous and records the reason in ``request.state.auth_error``;
    the ``CurrentUser`` dependency turns it into a 401 (a 503 when the token could not be checked).
    """

    def __init__(self, app: ASGIApp, backend: AuthBackend) -> None:
        self.app = app
        self.backend = backend

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["user"], state["auth_claims"], state["auth_error"] = ANONYMOUS, None, None
        token = token_from_scope(scope)
        if token is not None:
            try:
                authenticated = await self.backend.authenticate(token)
            except (NotAuthenticated, AuthUnavailable) as exc:
                state["auth_error"] = exc
            else:
                state["user"], state["auth_claims"] = authenticated.user, authenticated.claims
        # A route tool's in-process request within an agent run shares the run's scope (inherit).
        with permission_scope():
            await self.app(scope, receive, send)
