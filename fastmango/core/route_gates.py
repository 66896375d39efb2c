"""A literal-path gate in front of each of the app's routes, so a request skips the routes it cannot match cheaply.

For every request FastAPI tries the app's routes in order: for each one a regular expression over the path plus
its own bookkeeping, a few microseconds a route. The plugins' routes (``/auth``, ``/tasks``, ``/ai``, ``/admin``...)
come before the project's, so every request to a project route paid for all of them. A route's path up to its first
parameter is literal: a request whose path does not start with it (or, for a path without parameters, is not
equal to it) cannot match, and the gate answers "no match" with one string comparison. Anything else goes to the
route's own matching, unchanged; so does every request under a ``root_path`` (the route path is then computed).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from starlette.routing import BaseRoute, Match, Route, WebSocketRoute
from starlette.types import Scope

_GATED = "__fastmango_gated__"
Matcher = Callable[[Scope], tuple[Match, Scope]]


def gate_routes(routes: list[BaseRoute]) -> int:
    """Put a gate in front of each route of ``routes`` that has none yet: plain routes, and included routers whose
    routes are all plain (gated on the literal part their paths share); how many were gated."""
    gated = 0
    for route in routes:
        if getattr(route.matches, _GATED, False):
            continue
        if isinstance(route, (Route, WebSocketRoute)):
            literal, exact = _literal(route)
            route.matches = _gated(route.matches, literal, exact=exact)  # type: ignore[method-assign,assignment]
        elif _included_literal(route) is not None:
            route.matches = _gated_router(route)  # type: ignore[method-assign,assignment]
        else:
            continue
        gated += 1
    return gated


def _literal(route: Route | WebSocketRoute) -> tuple[str, bool]:
    """The literal start of the route's path, and whether that is the whole path."""
    path: str = route.path
    cut = path.find("{")
    return (path, True) if cut < 0 else (path[:cut], False)


def _included_literal(included: Any) -> str | None:
    """What every path of an included router starts with (its include prefix, then what its routes share); None when
    it is not an included router of plain routes."""
    router, context = getattr(included, "original_router", None), getattr(included, "include_context", None)
    routes = getattr(router, "routes", None)
    prefix = getattr(context, "prefix", None)
    if not routes or not isinstance(prefix, str):
        return None
    if not all(isinstance(route, (Route, WebSocketRoute)) for route in routes):
        return None
    cut = prefix.find("{")
    if cut >= 0:  # a prefix with a parameter (/{tenant}) is literal only up to it
        return prefix[:cut]
    # Characters, not path segments: the gate compares string starts.
    return prefix + os.path.commonprefix([_literal(route)[0] for route in routes])  # noqa: RUF071


def _gated(matches: Matcher, literal: str, *, exact: bool) -> Matcher:
    def gate(scope: Scope) -> tuple[Match, Scope]:
        if not scope.get("root_path"):
            path = scope.get("path")
            if path is not None and (path != literal if exact else not path.startswith(literal)):
                return Match.NONE, {}
        found: tuple[Match, Scope] = matches(scope)
        return found

    setattr(gate, _GATED, True)
    return gate


def _gated_router(included: Any) -> Matcher:
    """A gate for an included router, worked out again when routes were added to it since."""
    matches, routes = included.matches, included.original_router.routes
    known = [len(routes), _included_literal(included)]

    def gate(scope: Scope) -> tuple[Match, Scope]:
        if len(routes) != known[0]:
            known[:] = [len(routes), _included_literal(included)]
        literal = known[1]
        if literal is not None and not scope.get("root_path"):
            path = scope.get("path")
            if path is not None and not path.startswith(literal):
                return Match.NONE, {}
        found: tuple[Match, Scope] = matches(scope)
        return found

    setattr(gate, _GATED, True)
    return gate
