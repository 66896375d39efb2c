"""The page a new project shows at ``/`` in DEBUG, until the project routes ``/`` itself.

``fastmango dev`` prints ``app: http://127.0.0.1:8000/``; a fresh project has no route there, so that link
would be a 404. The welcome page is not a route: it wraps the router's not-found handler (``router.default``),
which Starlette and FastAPI call only after every route (full match, method mismatch, slash redirect) has been
tried. A project route at ``/``, whenever it was added, therefore always wins, and the page is absent from
the OpenAPI document.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from fastmango.__about__ import __version__

if TYPE_CHECKING:
    from fastmango.core.app import FastMango

ADMIN_PATH = "/admin/"


def install_welcome(app: FastMango) -> None:
    """Show the welcome page at ``/`` when ``app`` has no route there; only with DEBUG on, never in prod."""
    if not app.settings.debug or app.settings.env == "prod":
        return
    app.router.default = WelcomeFallback(app, app.router.default)


class WelcomeFallback:
    """The router's not-found handler, answering ``GET /`` and ``HEAD /`` with the welcome page.

    Args:
        app: The application whose routes and settings the page describes.
        not_found: The handler for everything else (the router's own ``default``).
    """

    def __init__(self, app: FastMango, not_found: ASGIApp) -> None:
        self.app = app
        self.not_found = not_found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in {"GET", "HEAD"} and _route_path(scope) == "/":
            await welcome_response(self.app, Request(scope, receive))(scope, receive, send)
            return
        await self.not_found(scope, receive, send)


def welcome_response(app: FastMango, request: Request) -> Response:
    """The welcome page: JSON when the client asks for JSON rather than HTML, HTML otherwise."""
    info = welcome_info(app, request.scope)
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        return JSONResponse(info)
    return HTMLResponse(_render(info))


def welcome_info(app: FastMango, scope: Scope) -> dict[str, Any]:
    """What the page says: the project, the versions and links to the pages the app serves."""
    root = scope.get("root_path", "")
    links: dict[str, str] = {}
    if app.docs_url:
        links["docs"] = root + app.docs_url
    if _serves(app, scope, ADMIN_PATH):
        links["admin"] = root + ADMIN_PATH
    links["health"] = root + "/health"
    return {
        "project": app.title,
        "version": app.version,
        "fastmango": __version__,
        "debug": True,
        "links": links,
        "message": "This page shows in DEBUG until the project has a route at /.",
    }


def _serves(app: FastMango, scope: Scope, path: str) -> bool:
    probe = {**scope, "path": path, "raw_path": path.encode(), "root_path": "", "method": "GET"}
    return any(route.matches(probe)[0] is not Match.NONE for route in app.router.routes)


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


def _render(info: dict[str, Any]) -> str:
    project = html.escape(str(info["project"]))
    items = "\n".join(
        f'      <li><a href="{html.escape(url)}">{html.escape(url)}</a> {_LINK_TEXT.get(name, "")}</li>'
        for name, url in info["links"].items()
    )
    return _PAGE.format(
        project=project,
        version=html.escape(str(info["version"])),
        fastmango=html.escape(str(info["fastmango"])),
        items=items,
    )


_LINK_TEXT = {
    "docs": "the API documentation (OpenAPI)",
    "admin": "the admin",
    "health": "the liveness check",
}

_PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>{project}: fastmango is running</title>
    <style>
      body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem;
             line-height: 1.5; color: #222; }}
      code {{ background: #f3f3f3; padding: 0 .2em; }}
      small {{ color: #666; }}
    </style>
  </head>
  <body>
    <h1>{project} is running</h1>
    <p><small>version {version}, fastmango {fastmango}, DEBUG on</small></p>
    <ul>
{items}
    </ul>
    <p>You see this page because DEBUG is on and the project has no route at <code>/</code> yet.
       Add one (for example <code>@router.get("/")</code> in <code>routes.py</code>) and it takes over.</p>
  </body>
</html>
"""
