"""Request limits: the body size cap (``settings.max_body_size``) and limits the OpenAPI document states.

The body cap is checked as the body is read (by :class:`fastmango.core.request_middleware.RequestMiddleware`),
never by reading it first: a ``Content-Length`` above the cap is
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
from starlette.types import Message, Scope

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


def route_limit(scope: Scope, default: int) -> int:
    """The body cap of the request's route: its own ``max_body_size``, else ``default`` (the setting)."""
    override = getattr(scope.get("route"), "max_body_size", None)
    return override if isinstance(override, int) else default


def problem_response(scope: Scope, exc: BodyTooLarge) -> Response:
    """The 413 problem response of ``exc``."""
    return problem(Request(scope), exc.status, exc.detail, title=exc.title, type=exc.type, **exc.extensions)


def is_problem(message: Message) -> bool:
    """Whether a response start message has a problem document's content type."""
    return any(
        name == b"content-type" and value.startswith(PROBLEM_CONTENT_TYPE.encode())
        for name, value in message.get("headers", ())
    )


def content_length(scope: Scope) -> int | None:
    """The request's declared ``Content-Length`` (None when absent or not a number)."""
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
