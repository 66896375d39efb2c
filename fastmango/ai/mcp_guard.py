"""The gate in front of the MCP endpoint: who is calling, how many of their requests are open, idle streams.

- A request with an ``Authorization`` header must carry a valid Bearer access token: an invalid, expired or revoked
  one is a 401 problem with ``WWW-Authenticate: Bearer`` (never served as anonymous). No header: anonymous. The
  auth cookie is not used (MCP requests are not a browser's, and the endpoint has no CSRF protection).
- Each user may have ``ai_mcp_max_streams_per_user`` MCP requests and event streams open at once, and anonymous
  callers ``ai_mcp_max_anonymous_streams`` together; above that a 429 problem with ``Retry-After``. The counts are
  per process.
- An event stream that sends nothing but pings for ``ai_mcp_idle_timeout`` seconds is ended (the stateless endpoint
  never sends anything on the ``GET`` stream, so there it is a bound on how long one stays open).
"""

from __future__ import annotations

import contextvars
import logging
from collections import Counter
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastmango.core.errors import ProblemError
from fastmango.core.problems import problem, problem_type

logger = logging.getLogger("fastmango.ai.mcp")

#: The user of the MCP request being served (None: anonymous), for the server's handlers.
mcp_user: contextvars.ContextVar[Any] = contextvars.ContextVar("fastmango_mcp_user", default=None)

#: Seconds a caller over its cap is told to wait.
RETRY_AFTER_SECONDS = 5


class MCPGuard:
    """ASGI middleware around the MCP app: authentication, the open-request caps and the idle timeout."""

    def __init__(
        self,
        app: ASGIApp,
        fastmango_app: Any,
        *,
        idle_timeout: float,
        max_per_user: int,
        max_anonymous: int,
    ) -> None:
        self.app = app
        self.fastmango_app = fastmango_app
        self.idle_timeout = idle_timeout
        self.max_per_user = max_per_user
        self.max_anonymous = max_anonymous
        self.open: Counter[int | None] = Counter()  # open requests by user id (None: anonymous)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            user = await self._user(scope)
        except ProblemError as exc:
            await _answer(exc, scope, receive, send)
            return
        key = user.id if user is not None else None
        cap = self.max_per_user if key is not None else self.max_anonymous
        if not cap:  # ai_mcp_max_anonymous_streams = 0: MCP for authenticated users only
            await _answer(_unauthorized("Send a Bearer access token.", None), scope, receive, send)
            return
        if self.open[key] >= cap:
            who = "this user" if key is not None else "anonymous callers"
            logger.warning("MCP: %d requests of %s are open; refusing another", self.open[key], who)
            await _answer(_over_cap(who, cap), scope, receive, send)
            return
        self.open[key] += 1
        token = mcp_user.set(user)
        try:
            await self._serve(scope, receive, send)
        finally:
            mcp_user.reset(token)
            self.open[key] -= 1
            if not self.open[key]:
                del self.open[key]

    async def _user(self, scope: Scope) -> Any:
        """The caller: None when anonymous.

        Raises:
            ProblemError: 401 for unusable credentials (503 when they cannot be checked now).
        """
        headers = [value for name, value in scope.get("headers", []) if name == b"authorization"]
        if not headers:
            return None
        scheme, _, token = headers[0].decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Send a Bearer access token in the Authorization header.", "invalid_request")
        state = scope.get("state") or {}
        if "auth_error" in state:  # the app's AuthenticationMiddleware checked this Bearer token already
            error, user = state["auth_error"], state.get("user")
        else:
            error, user = None, None
            try:
                user = (await self.fastmango_app.state.auth.authenticate(token.strip())).user
            except ProblemError as exc:
                error = exc
        if error is not None:
            if getattr(error, "status", None) == 401:
                raise _unauthorized(error.detail or "The access token is not valid.", "invalid_token")
            raise error
        return user if getattr(user, "is_authenticated", False) else None

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the MCP app; end its event stream once it has been idle for ``idle_timeout`` seconds."""
        streaming = finished = idle = False
        deadline = anyio.current_time() + self.idle_timeout

        async def watched_send(message: Message) -> None:
            nonlocal streaming, finished, deadline
            if message["type"] == "http.response.start":
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                streaming = content_type.startswith(b"text/event-stream")
                deadline = anyio.current_time() + self.idle_timeout
            elif message["type"] == "http.response.body":
                finished = not message.get("more_body", False)
                if _has_event(message.get("body", b"")):
                    deadline = anyio.current_time() + self.idle_timeout
            await send(message)

        async with anyio.create_task_group() as group:

            async def watch() -> None:
                nonlocal idle
                while not finished:
                    # A plain (JSON) answer is not cut, however long its tool takes: look again later.
                    await anyio.sleep_until(deadline if streaming else anyio.current_time() + self.idle_timeout)
                    if streaming and not finished and anyio.current_time() >= deadline:
                        idle = True
                        group.cancel_scope.cancel()

            group.start_soon(watch)
            await self.app(scope, receive, watched_send)
            group.cancel_scope.cancel()
        if idle and not finished:
            logger.info("MCP: closing an event stream idle for %g s", self.idle_timeout)
            await send({"type": "http.response.body", "body": b"", "more_body": False})


def _has_event(body: bytes) -> bool:
    """Whether an event-stream chunk holds more than comments (sse-starlette's pings are comments)."""
    return any(line.strip() and not line.startswith(b":") for line in body.splitlines())


def _unauthorized(detail: str, error: str | None) -> ProblemError:
    challenge = 'Bearer realm="mcp"' + (f', error="{error}"' if error else "")  # RFC 6750 section 3
    return ProblemError(
        401,
        detail,
        title="Not authenticated",
        type=problem_type("not-authenticated"),
        headers={"WWW-Authenticate": challenge},
    )


def _over_cap(who: str, cap: int) -> ProblemError:
    return ProblemError(
        429,
        f"{cap} MCP requests or streams of {who} are open already; close one, or retry after "
        f"{RETRY_AFTER_SECONDS} seconds.",
        title="Too many open MCP streams",
        type=problem_type("rate-limited"),
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _answer(exc: ProblemError, scope: Scope, receive: Receive, send: Send) -> None:
    from starlette.requests import Request

    response = problem(
        Request(scope), exc.status, exc.detail, title=exc.title, type=exc.type, headers=exc.headers, **exc.extensions
    )
    await response(scope, receive, send)
