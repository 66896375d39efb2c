"""The admin UI's files: the built Vue SPA in ``fastmango/admin/static/`` (``make admin`` builds it there).

``/admin`` and every client route under it (``/admin/models/post/3``) answer ``index.html``, which the SPA routes
itself; ``/admin/assets/<file>`` answer the built files (named by content hash, so cached for a year). Nothing
is fetched from a CDN. Without a build, ``/admin`` answers a page that says how to make one.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

from fastmango.core.errors import ProblemError

STATIC = Path(__file__).parent / "static"

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>fastmango admin</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem">
<h1>fastmango admin</h1>
<p>The admin UI was not built: run <code>make admin</code> in the fastmango repository (it builds the Vue sources
into <code>fastmango/admin/static/</code>). The admin API answers at <a href="{api}/site">{api}/site</a>.</p>
</body></html>
"""


def static_router(path: str = "/admin", static: Path = STATIC) -> APIRouter:
    """Routes serving the SPA under ``path`` from the folder ``static``."""
    router = APIRouter(include_in_schema=False)
    root = static.resolve()

    async def index(request: Request) -> Response:
        page = root / "index.html"
        if not page.is_file():
            return HTMLResponse(NOT_BUILT.replace("{api}", f"{path}/api"))
        return FileResponse(page, media_type="text/html", headers={"Cache-Control": "no-cache"})

    async def asset(request: Request, file: str) -> Response:
        found = _resolved(root / "assets", file)
        if found is None or not found.is_relative_to(root / "assets") or not found.is_file():
            raise ProblemError(404, f"No admin asset {file!r}.")
        return FileResponse(found, headers={"Cache-Control": "public, max-age=31536000, immutable"})

    async def client_route(request: Request, route: str) -> Response:
        if route == "api" or route.startswith("api/"):
            raise ProblemError(404, f"No admin API endpoint {request.url.path}.")
        found = _resolved(root, route)
        if found is None:
            raise ProblemError(404, f"No admin page {route!r}.")
        if route and found.is_relative_to(root) and found.is_file() and found.name != "index.html":
            return FileResponse(found)  # favicon.ico and other files of the build's root
        return await index(request)

    router.add_api_route(path, index, methods=["GET"])
    router.add_api_route(f"{path}/assets/{{file:path}}", asset, methods=["GET"])
    router.add_api_route(f"{path}/{{route:path}}", client_route, methods=["GET"])
    return router


def _resolved(folder: Path, name: str) -> Path | None:
    """``folder / name`` resolved; None when it cannot name a file (a NUL byte, a name too long...)."""
    if "\x00" in name:
        return None
    try:
        found = (folder / name).resolve()
        found.is_file()
    except (OSError, ValueError):
        return None
    return found
