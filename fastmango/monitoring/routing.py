"""Where the monitoring routes go in an app's route list."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import APIRouter

    from fastmango.core.app import FastMango


def add_before_admin_fallback(app: FastMango, router: APIRouter) -> None:
    """Add ``router``'s routes ahead of the admin SPA's catch-all ``<admin_path>/{route:path}``, which would answer
    them 404 otherwise (the admin plugin installs before monitoring); at the end when there is no admin."""
    fallback = "/" + app.settings.admin_path.strip("/") + "/{route:path}"
    routes = app.router.routes
    index = next((i for i, route in enumerate(routes) if getattr(route, "path", None) == fallback), len(routes))
    routes[index:index] = router.routes
