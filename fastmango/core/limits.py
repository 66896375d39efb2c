"""Request limits: the body size cap (``settings.max_body_size``) and limits the OpenAPI document states.

The body cap is checked as the body is read, never by reading it first: a ``Content-Length`` above the cap is
refused before a byte is received, and a body without one (chunked) is counted chunk by chunk and refused as
soon as it passes the cap. Either way the answer is a 413 problem and the rest of the body stays unread.

A route that takes larger (or only smaller) bodies says so with FastAPI's own route option::

    @router.post("/uploads", max_body_size=50 * 1024 * 1024)
    async def upload(request: Request) -> dict[str, int]: ...

That limit replaces the setting for the route (it is read when the route starts reading its body); its 413 is
a problem document too.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastmango.core.errors import ProblemError
from fastmango.core.problems import PROBLEM_CONTENT_TYPE, problem, problem_type

#: A parameter schema whose ``maxLength`` is a setting carries its name under this key; the app's OpenAPI
#: document replaces it with the setting's value (see :func:`document_limits`).
LIMIT_SETTING = "x-fastmango-max-length-setting"


class BodyTooLarge(ProblemError, HTTPException):  # type: ignore[misc]  # both set detail and headers
    """413: the request body is larger than the route accepts.

    An ``HTTPException`` too, so that FastAPI's body reading passes it on rather than calling it a body
    that cannot be parsed (400).
    """

    def __init__(self, limit: int) -> None:
        detail = f"The request body is larger than {limit} bytes, the most this endpoint accepts."
        ProblemError.__init__(
            self, 413, detail, title="Content too large", type=problem_type("body-too-large"), max_body_size=limit
        )
        HTTPException.__init__(self, 413, detail)


class BodySizeLimitMiddleware:
    """Refuses request bodies above ``max_body_size`` bytes (or the route's own ``max_body_size``) with a 413.

    Args:
        app: The ASGI app.
        max_body_size: The cap in bytes for routes that set none.
    """

    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit: int | None = None
        received = 0
        started = replaced = False

        async def limited_receive() -> Message:
            nonlocal limit, received
            if limit is None:
                # The first read happens once the route is known (the router has put it in the scope).
                limit = self._limit(scope)
                declared = _content_length(scope)
                if declared is not None and declared > limit:
                    raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started, replaced
            if message["type"] == "http.response.start":
                started = True
                if message["status"] == 413 and not _is_problem(message):
                    # Starlette's own limiter (behind FastAPI's route option max_body_size=) answers in plain
                    # text when a declared length is too large: send the problem instead.
                    replaced = True
                    await _problem_response(scope, BodyTooLarge(self._limit(scope)))(scope, receive, send)
                    return
            elif replaced:
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLarge as exc:
            # Raised where no exception handler answers it (a middleware reading the body): answer here.
            if started:
                raise
            await _problem_response(scope, exc)(scope, receive, send)

    def _limit(self, scope: Scope) -> int:
        override = getattr(scope.get("route"), "max_body_size", None)
        return override if isinstance(override, int) else self.max_body_size


def _problem_response(scope: Scope, exc: BodyTooLarge) -> Response:
    return problem(Request(scope), exc.status, exc.detail, title=exc.title, type=exc.type, **exc.extensions)


def _is_problem(message: Message) -> bool:
    return any(
        name == b"content-type" and value.startswith(PROBLEM_CONTENT_TYPE.encode())
        for name, value in message.get("headers", ())
    )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def document_limits(schema: dict[str, Any], settings: Any) -> dict[str, Any]:
    """Fill in the ``maxLength`` of parameters marked with :data:`LIMIT_SETTING` from ``settings``."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", ()):
                parameter_schema = parameter.get("schema", {})
                name = parameter_schema.pop(LIMIT_SETTING, None)
                if name is not None:
                    parameter_schema["maxLength"] = getattr(settings, name)
    return schema
