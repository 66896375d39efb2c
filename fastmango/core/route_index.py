"""Routes indexed by the first segment of their path, so a request tries only the routes that can match it.

FastAPI tries an app's routes in order for every request. The plugins' routes (``/auth``, ``/tasks``, ``/admin``,
``/metrics``...) come before the project's, so a request to a project route walked some forty routes first; even
behind :mod:`fastmango.core.route_gates` that was ~20 us of a ~75 us "hello" request. The index maps the first path
segment of every route whose path starts with a literal segment (``/books/{pk}`` -> ``books``) to the routes that
may match it, kept in the app's order, together with every route whose start is not known (``/{slug}``, mounts,
hosts...): a request is then routed by FastAPI's own loop over that shorter list, with the same result, since every
route left out would have answered "no match" for its first segment. Anything that is not an HTTP request, and
a router that wraps middleware of its own around its dispatch, go through the full list as before. The views are
copied again when the route list is replaced, changes length or is changed through the router (routes added or
removed after start-up), or the router's not-found handler or ``redirect_slashes`` is replaced; a route swapped in
place (``app.router.routes[i] = other``) is not noticed.
"""

from __future__ import annotations

import copy
from typing import Any

from starlette._utils import get_route_path  # the path the routes match (less the root path), as Starlette computes it
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

_WILDCARD = None


def install_route_index(router: Any) -> bool:
    """Route ``router``'s HTTP requests through a first-segment index (idempotent). False when the router wraps
    middleware of its own around its dispatch (then it is left as it is)."""
    if isinstance(router.middleware_stack, RouteIndex):
        return True
    if router.middleware_stack != router.app:
        return False
    router.middleware_stack = RouteIndex(router)
    return True


class RouteIndex:
    """An ASGI app standing for ``router.app``: the request's candidate routes, then FastAPI's routing."""

    def __init__(self, router: Any) -> None:
        self.router = router
        self.full: ASGIApp = router.app
        self.known: tuple[int, ...] = ()
        self.views: dict[str, Any] = {}
        self.others: Any = None  # the view for a segment no route names: the wildcards only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.full(scope, receive, send)
            return
        if self._state() != self.known:
            self._rebuild()
        path = get_route_path(scope)
        end = path.find("/", 1)
        segment = path[1:] if end < 0 else path[1:end]
        view = self.views.get(segment, self.others)
        scope.setdefault("router", self.router)  # url_for and the like look up every route, not the view's
        await view.app(scope, receive, send)

    def _rebuild(self) -> None:
        router = self.router
        routes: list[BaseRoute] = list(router.routes)
        keys = [_segment(route) for route in routes]
        named = {key for key in keys if key is not _WILDCARD}

        def view(segment: str | None) -> Any:
            shallow = copy.copy(router)
            shallow.routes = [route for route, key in zip(routes, keys, strict=True) if key in (segment, _WILDCARD)]
            return shallow

        self.views = {segment: view(segment) for segment in named}
        self.others = view(_WILDCARD)
        self.known = self._state()

    def _state(self) -> tuple[int, ...]:
        """What the views were copied from: the route list (its identity, length and FastAPI's count of route
        changes), a ``default`` set on the router (the not-found handler) and ``redirect_slashes``."""
        router = self.router
        return (
            id(router.routes),
            len(router.routes),
            getattr(router, "_routes_version", 0),
            id(router.__dict__.get("default")),
            bool(router.redirect_slashes),
        )


def _segment(route: BaseRoute) -> str | None:
    """The first path segment every path of ``route`` has, or None when it is not known."""
    if isinstance(route, (Route, WebSocketRoute)):
        path: str = route.path
        cut = path.find("{")
        literal, exact = (path, True) if cut < 0 else (path[:cut], False)
        return _first_segment(literal, complete=exact)
    router, context = getattr(route, "original_router", None), getattr(route, "include_context", None)
    prefix = getattr(context, "prefix", None)
    if router is not None and isinstance(prefix, str) and prefix:
        # An included router's paths are its prefix (no trailing slash) followed by "" or "/...". A prefix with a
        # parameter (/{tenant}) is literal only up to it.
        cut = prefix.find("{")
        return _first_segment(prefix if cut < 0 else prefix[:cut], complete=cut < 0)
    return _WILDCARD


def _first_segment(literal: str, *, complete: bool) -> str | None:
    """The first segment of a path that starts with ``literal``; None when ``literal`` may end inside it (and it is
    not the whole path) or there is none."""
    if not literal.startswith("/"):
        return _WILDCARD
    end = literal.find("/", 1)
    if end >= 0:
        return literal[1:end]
    return literal[1:] if complete and len(literal) > 1 else _WILDCARD
