"""``expose_routes(app, operation_ids=[...])``: endpoints as tools, called in process as the caller.

A route tool sends a real ASGI request to the app (no network hop) carrying the caller's credentials:
the request's own ``Authorization``/cookie, or a short-lived token minted for the user when there is no
request (CLI, tasks). Dependencies, validation and permission checks apply exactly as over HTTP; a 403
over HTTP is a refused tool call.

The ``require_permission(...)`` dependencies of the endpoint (its own, its router's and those of its
dependencies) become the tool's permissions, so the tool is offered only to users who hold them, and checked
again when it is called.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, create_model

from fastmango.ai.context import ToolContext
from fastmango.ai.registry import ToolError, ToolSpec, registry, tool_schema
from fastmango.auth.dependencies import required_permissions
from fastmango.core.errors import ProblemError

INTERNAL_BASE_URL = "http://fastmango.internal"


def expose_routes(app: Any, operation_ids: Sequence[str], *, permissions: Sequence[str] = ()) -> list[ToolSpec]:
    """Register the app's endpoints whose operation ids match ``operation_ids`` (globs allowed) as tools.

    Args:
        app: The FastMango (or FastAPI) app.
        operation_ids: Operation ids or globs (``["weather", "post_*"]``).
        permissions: Extra permissions needed to be offered the tools, beside those of the endpoint's
            ``require_permission`` dependencies (the endpoint's own checks apply anyway).
    """
    specs = []
    for route in api_routes(app):
        if not route.operation_id:
            continue
        if any(fnmatch.fnmatchcase(route.operation_id, pattern) for pattern in operation_ids):
            specs.append(registry.add(_route_tool(app, route, tuple(permissions)), replace=True))
    if not specs:
        raise ToolError(f"no endpoint has an operation id matching {list(operation_ids)}")
    return specs


def api_routes(app: Any) -> list[Any]:
    """The app's API routes, those of included routers too, each as served: its full path, and its routers'
    dependencies in its ``dependant``.

    FastAPI 0.165 includes a router lazily (``app.routes`` holds the router, not copies of its routes);
    ``iter_route_contexts`` gives each route in its inclusion context. Older versions copy the routes.
    """
    from fastapi import routing

    iterate = getattr(routing, "iter_route_contexts", None)
    if iterate is None:
        return [route for route in app.routes if isinstance(route, APIRoute)]
    return [context for context in iterate(app.routes) if isinstance(context.original_route, APIRoute)]


def _route_tool(app: Any, route: Any, permissions: tuple[str, ...]) -> ToolSpec:
    fields: dict[str, Any] = {}
    path_names: list[str] = []
    query_names: list[str] = []
    for kind, param in _parameters(route.dependant):
        names = path_names if kind == "path" else query_names
        if param.name in fields:
            continue
        info = param.field_info
        default = ... if info.is_required() else info.default
        fields[param.name] = (info.annotation, Field(default, description=info.description))
        names.append(param.name)
    body_annotation = route.body_field.field_info.annotation if route.body_field is not None else None
    if body_annotation is not None:
        fields["body"] = (body_annotation, Field(description="The request body."))
    arguments = create_model(f"{route.operation_id}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    method = sorted(route.methods or {"GET"})[0]

    async def call(context: ToolContext, args: dict[str, Any]) -> Any:
        values = arguments.model_validate(args)
        path = route.path_format.format(**{name: getattr(values, name) for name in path_names})
        query = {name: _query_value(getattr(values, name)) for name in query_names if getattr(values, name) is not None}
        body = getattr(values, "body", None)
        payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
        return await call_in_process(app, context, method, path, query, payload)

    schema = tool_schema(arguments)
    return ToolSpec(
        name=route.operation_id or route.name,
        description=route.description or route.summary or route.name.replace("_", " "),
        parameters=schema,
        call=call,
        permissions=tuple(dict.fromkeys([*permissions, *route_permissions(route)])),
        kind="route",
        metadata={"method": method, "path": route.path},
    )


async def call_in_process(
    app: Any, context: ToolContext, method: str, path: str, query: dict[str, Any], body: Any
) -> Any:
    """Send the request to ``app`` over ASGI as the caller; the JSON answer, or a ProblemError for an error."""
    import httpx

    headers = _credentials(app, context)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=INTERNAL_BASE_URL) as client:
        response = await client.request(method, path, params=query, json=body, headers=headers)
    content = response.json() if response.content and "json" in response.headers.get("content-type", "") else None
    if response.status_code >= 400:
        problem = content if isinstance(content, dict) else {"detail": response.text[:500]}
        raise ProblemError(
            response.status_code,
            str(problem.get("detail") or ""),
            title=str(problem.get("title") or response.reason_phrase),
            type=problem.get("type"),  # the route's own problem type, as it answered over HTTP
        )
    return content if content is not None else response.text


def _credentials(app: Any, context: ToolContext) -> dict[str, str]:
    request = context.request
    if request is not None:
        forwarded = {k: v for k, v in request.headers.items() if k in ("authorization", "cookie")}
        if forwarded:
            return forwarded
    user = context.user
    auth = getattr(getattr(app, "state", None), "auth", None)
    if user is None or auth is None or user.id is None:
        return {}
    token, _ = auth.tokens.issue(user.id, "access", version=auth.tokens.version_of(user))
    return {"authorization": f"Bearer {token}"}


def _parameters(dependant: Any) -> list[tuple[str, Any]]:
    """The path and query parameters of an endpoint and of its dependencies."""
    found = [("path", p) for p in dependant.path_params] + [("query", p) for p in dependant.query_params]
    for sub in dependant.dependencies:
        found += _parameters(sub)
    return found


def route_permissions(route: Any) -> list[str]:
    """The codenames a route's ``require_permission`` dependencies (its own, its routers') require, in order."""
    return list(dict.fromkeys(_required_permissions(route.dependant)))


def _required_permissions(dependant: Any) -> list[str]:
    """The codenames of the ``require_permission`` dependencies of an endpoint, at any depth (a router's
    dependencies are the route's own in FastAPI)."""
    found = list(required_permissions(dependant.call))
    for sub in dependant.dependencies:
        found += _required_permissions(sub)
    return found


def _query_value(value: Any) -> Any:
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
