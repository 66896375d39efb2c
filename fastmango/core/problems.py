"""RFC 9457 problem details: the response type and the exception handlers every app installs."""

from __future__ import annotations

import logging
import traceback
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Mount

from fastmango.core.debug_page import debug_response, prefers_html
from fastmango.core.errors import ProblemError
from fastmango.core.logging import request_id_var

logger = logging.getLogger("fastmango.errors")

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://fastmango.dev/problems/"

#: Every problem type fastmango answers with, by slug: its status and what it means (docs/errors.md lists
#: the same). A problem's ``type`` is ``PROBLEM_TYPE_BASE + slug``; the slugs are stable.
PROBLEM_TYPES: dict[str, tuple[int, str]] = {
    "bad-request": (400, "The request cannot be used as sent (a body that is not JSON, a bad argument...)."),
    "bad-query-parameter": (400, "A query parameter the endpoint does not accept, or a value it cannot use."),
    "bad-value": (400, "The database refused a value (out of range for its column, a NUL byte in text...)."),
    "not-authenticated": (401, "No credentials, or credentials that are expired, malformed or revoked."),
    "permission-denied": (403, "Authenticated, but without the permission the operation needs."),
    "not-found": (404, "No such route, row or record."),
    "method-not-allowed": (405, "The route exists, but not with this HTTP method."),
    "conflict": (409, "The request conflicts with the current state of the resource."),
    "integrity": (409, "A unique, foreign key, NOT NULL or check constraint refused the write."),
    "body-too-large": (413, "The request body is larger than the endpoint accepts (`max_body_size`)."),
    "validation-failed": (422, "The request does not match its schema; `errors` lists each field."),
    "rate-limited": (429, "Too many requests or failed logins; retry after `Retry-After` seconds."),
    "ai-budget-exceeded": (429, "An AI budget is used up until `resets_at`."),
    "internal-error": (500, "An unexpected error; quote `request_id` when reporting it."),
    "ai-provider-error": (502, "The AI provider failed or refused the credentials."),
    "service-unavailable": (503, "A service the endpoint needs is not configured or not reachable."),
    "database-unavailable": (503, "The database is down, hung or out of connections; retry after `Retry-After`."),
    "ai-provider-busy": (503, "The AI provider is rate limiting; retry after `Retry-After` seconds."),
    "ai-provider-timeout": (504, "The AI provider did not answer in time."),
}
# The type of a problem raised with a status alone; a status not listed here is ``http-<status>``.
_STATUS_SLUGS = {
    400: "bad-request",
    401: "not-authenticated",
    403: "permission-denied",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "body-too-large",
    422: "validation-failed",
    429: "rate-limited",
    500: "internal-error",
    503: "service-unavailable",
}


def problem_type(slug: str) -> str:
    """The ``type`` URI of the problem type ``slug`` (``problem_type("not-found")``), one of :data:`PROBLEM_TYPES`."""
    if slug not in PROBLEM_TYPES:
        raise ValueError(f"no problem type {slug!r}; the types are {', '.join(PROBLEM_TYPES)}")
    return PROBLEM_TYPE_BASE + slug


def default_problem_type(status: int) -> str:
    """The ``type`` URI of a problem with ``status`` and no more specific type: ``not-found`` for 404, and
    ``http-<status>`` for a status fastmango defines no type for (``http-415``)."""
    slug = _STATUS_SLUGS.get(status)
    return problem_type(slug) if slug else f"{PROBLEM_TYPE_BASE}http-{status}"


class ProblemResponse(JSONResponse):
    """A JSON response with the ``application/problem+json`` media type."""

    media_type = PROBLEM_CONTENT_TYPE


def problem(
    request: Request | None,
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    type: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> ProblemResponse:
    """Build a problem details response. ``instance`` is the request path; ``type`` defaults to the status's
    (:func:`default_problem_type`)."""
    body: dict[str, Any] = {
        "type": type or default_problem_type(status),
        "title": title or _phrase(status),
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
    body.update(extensions)
    return ProblemResponse(body, status_code=status, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _problem_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, ProblemError)
    return problem(
        request, exc.status, exc.detail, title=exc.title, type=exc.type, headers=exc.headers, **exc.extensions
    )


async def _http_exception(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail: str | None = exc.detail if isinstance(exc.detail, str) else None
    extensions: dict[str, Any] = {} if isinstance(exc.detail, str) or exc.detail is None else {"errors": exc.detail}
    if detail == _phrase(exc.status_code):
        detail = None
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": _allowed_methods(request)}
    return problem(request, exc.status_code, detail, headers=headers, **extensions)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method some route of the app answers at the request's path (the router's 405 names only the first
    route's, and FastAPI makes a route per method)."""
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    allowed = [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]
    return ", ".join(allowed)


async def _validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "field": ".".join(str(part) for part in err.get("loc", ())[1:]) or None,
            "msg": err.get("msg"),
            "type": err.get("type"),
        }
        for err in exc.errors()
    ]
    detail = "; ".join(f"{e['field'] or e['loc'][0]}: {e['msg']}" for e in errors) or "The request is not valid."
    return problem(request, 422, detail, title="Validation failed", errors=errors)


async def _unhandled(request: Request, exc: Exception) -> Response:
    # Called inside RequestMiddleware (for an exception no handler took), or outside it by Starlette's outermost
    # middleware, where the context variable is reset by now; the id stays in the request state.
    inside = request_id_var.get() is not None
    request_id = getattr(request.state, "request_id", None) or request_id_var.get()
    token = request_id_var.set(request_id)
    try:
        logger.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    finally:
        request_id_var.reset(token)
    # Outside RequestMiddleware, which adds the header to the responses that pass through it: add it here.
    headers = {"X-Request-ID": request_id} if request_id and not inside else None
    extensions: dict[str, Any] = {"request_id": request_id}
    detail = f"An unexpected error occurred. Quote request id {request_id} when reporting it."
    settings = getattr(request.app.state, "settings", None)
    if settings is not None and settings.debug:
        if prefers_html(request.headers.get("accept", "")):  # a browser: the traceback page
            return debug_response(request, exc, request_id, headers=headers)
        extensions["traceback"] = traceback.format_exception(exc)
        detail = f"{type(exc).__name__}: {exc}"
    return problem(request, 500, detail, headers=headers, **extensions)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error response of ``app`` a problem document."""
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "type": "object",
    "properties": {
        "type": {
            "type": "string",
            "format": "uri",
            "description": f"The problem type: {PROBLEM_TYPE_BASE}<slug>, one of the slugs listed in the "
            "fastmango documentation (docs/errors.md), or another URI an application defines.",
            "examples": [problem_type(slug) for slug in PROBLEM_TYPES],
        },
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {"type": "object", "additionalProperties": True},
            "description": "Validation errors, each with the field path (422).",
        },
    },
    "required": ["type", "title", "status"],
    "additionalProperties": True,
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_DESCRIPTIONS = {
    400: "Bad request: a parameter or value the endpoint cannot use.",
    401: "Not authenticated: missing, invalid, expired or revoked credentials.",
    403: "Permission denied.",
    404: "Not found.",
    409: "Conflict: a unique, foreign key or other constraint refused the write.",
    422: "Validation failed; `errors` lists each field.",
    429: "Too many requests; see Retry-After.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem details for these statuses."""
    return {
        status: {
            "description": _DESCRIPTIONS.get(status, _phrase(status)),
            "content": {
                PROBLEM_CONTENT_TYPE: {
                    "schema": _PROBLEM_REF,
                    "example": {"type": default_problem_type(status), "title": _phrase(status), "status": status},
                }
            },
        }
        for status in statuses
    }


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Make an OpenAPI document say what the app does: every 422 is problem details, not FastAPI's
    ``HTTPValidationError``, and the ``Problem`` schema exists."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = problem_responses(422)[422]
            # A body that is not valid JSON is a 400 before validation runs.
            extra = [400] if "requestBody" in operation else []
            # Operations behind a security scheme answer 401 (no or bad credentials) and 403.
            extra += [401, 403] if operation.get("security") else []
            for status, response in problem_responses(*extra).items():
                responses.setdefault(str(status), response)
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    return schema
