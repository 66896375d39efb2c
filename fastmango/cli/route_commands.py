"""``fastmango routes``: the app's routes with the permissions each needs and the AI tool that serves it."""

from __future__ import annotations

import json
from typing import Any

import typer

from fastmango.cli.main import app


@app.command()
def routes(as_json: bool = typer.Option(False, "--json", help="Print the routes as a JSON list.")) -> None:
    """Print every route: methods, path, operation id (or name), the permissions it requires and its AI tool."""
    import fastmango

    found = route_rows(fastmango.setup())
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    table = [["METHODS", "PATH", "NAME", "PERMISSIONS", "AI TOOL"]]
    for row in found:
        permissions = ", ".join(row["permissions"]) or "-"
        table.append([",".join(row["methods"]), row["path"], row["name"], permissions, row["tool"] or "-"])
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def route_rows(application: Any) -> list[dict[str, Any]]:
    """One row per route of ``application``, in the order requests try them (included routers' routes in
    their place): ``{methods, path, name, permissions, tool}``."""
    from fastapi.routing import APIRoute
    from starlette.routing import Mount, Route, WebSocketRoute

    from fastmango.ai import registry
    from fastmango.ai.route_tools import api_routes, route_permissions

    tools = {
        (spec.metadata.get("method"), spec.metadata.get("path")): spec.name for spec in registry if spec.kind == "route"
    }
    api = {id(getattr(route, "original_route", route)): route for route in api_routes(application)}
    rows: list[dict[str, Any]] = []
    for route in _walk(application.routes):
        served = api.get(id(route))
        if served is not None:
            methods = sorted(served.methods or ())
            tool = next((tools[(m, served.path)] for m in methods if (m, served.path) in tools), None)
            name = served.operation_id or served.name
            rows.append(_row(methods, served.path, name, route_permissions(served), tool))
        elif isinstance(route, APIRoute | Route):
            rows.append(_row(sorted(route.methods or ()), route.path, route.name, [], None))
        elif isinstance(route, WebSocketRoute):
            rows.append(_row(["WEBSOCKET"], route.path, route.name, [], None))
        elif isinstance(route, Mount):
            rows.append(_row(["*"], route.path + "/...", route.name or "", [], None))
    return rows


def _walk(routes: list[Any]) -> list[Any]:
    """The routes of ``routes``, those of included routers in their place."""
    found: list[Any] = []
    for route in routes:
        router = getattr(route, "original_router", None)
        found.extend(_walk(router.routes) if router is not None else [route])
    return found


def _row(methods: list[str], path: str, name: str, permissions: list[str], tool: str | None) -> dict[str, Any]:
    return {"methods": methods, "path": path, "name": name, "permissions": permissions, "tool": tool}
