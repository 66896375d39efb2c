"""Load a project's modules by convention, as Django's autodiscovery loads each app's ``admin.py``.

A project's declarations live in modules of its package: ``models`` (tables), ``tasks`` (``@fastmango.task``),
``tools`` (``@fastmango.tool`` and agents), ``admin`` (admin registrations) and ``routes`` (an ``APIRouter``
named ``router``). Importing a module registers what it declares, so the app imports them when it is
configured (its lifespan, :func:`fastmango.setup`, the CLI and the worker alike), and includes the router of
``routes`` ahead of the routes ``app.py`` adds (so ``/posts/latest`` there wins over a CRUD ``/posts/{pk}``).
The list is ``[tool.fastmango] discover = [...]`` in the project's ``pyproject.toml``.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from fastapi import APIRouter

from fastmango.core.errors import FastMangoError, ImproperlyConfigured
from fastmango.core.project import find_project, import_project_module

if TYPE_CHECKING:
    from fastmango.core.app import FastMango

logger = logging.getLogger("fastmango")

#: The modules loaded when ``[tool.fastmango] discover`` does not say otherwise, in this order.
DEFAULT_MODULES = ("models", "tasks", "tools", "admin", "routes")


def project_package(app: FastMango) -> str | None:
    """The package of the project that ``app`` belongs to: the one its settings class is declared in.

    ``mysite.settings.Settings`` gives ``mysite``; an app built with fastmango's own ``Settings`` has none.
    """
    module = type(app.settings).__module__
    package = module.split(".")[0]
    if package in {"fastmango", "__main__", "builtins"}:
        return None
    return package


def configured_modules(package: str) -> list[str]:
    """The module names ``[tool.fastmango] discover`` lists for ``package``'s project (the defaults without it).

    Raises:
        ImproperlyConfigured: ``discover`` is not a list of module names.
    """
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        return list(DEFAULT_MODULES)
    try:
        project = find_project(Path(locations[0]).parent)
    except FastMangoError:
        return list(DEFAULT_MODULES)
    names = project.config.get("discover", list(DEFAULT_MODULES))
    if not isinstance(names, list) or not all(isinstance(name, str) and name.isidentifier() for name in names):
        raise ImproperlyConfigured(
            f"[tool.fastmango] discover in {project.root / 'pyproject.toml'} must be a list of module names, "
            f'e.g. discover = ["models", "tasks", "tools", "admin", "routes"]; got {names!r}'
        )
    return names


def discover(app: FastMango) -> list[ModuleType]:
    """Import the project's convention modules and include ``routes.router``; returns the modules found.

    Raises:
        ImproperlyConfigured: a module exists but an import inside it fails; the message names the module.
    """
    package = project_package(app)
    if package is None:
        return []
    found = []
    for name in configured_modules(package):
        module = import_project_module(package, name)
        if module is None:
            continue
        found.append(module)
        router = getattr(module, "router", None) if name == "routes" else None
        if isinstance(router, APIRouter) and not _included(app, router):
            _include_first(app, router)
    logger.debug("discovered %s", ", ".join(module.__name__ for module in found) or "no project modules")
    return found


def _include_first(app: FastMango, router: APIRouter) -> None:
    """Include ``router`` ahead of the routes ``app.py`` added, as if included right after the app was built.

    Hand-written routes are specific (``/posts/latest``); a CRUD router added in ``app.py`` has ``/posts/{pk}``,
    which would otherwise match first.
    """
    routes = app.router.routes
    before = len(routes)
    app.include_router(router)
    added = routes[before:]
    del routes[before:]
    start = min(getattr(app, "user_routes_start", before), before)
    routes[start:start] = added
    mark_changed = getattr(app.router, "_mark_routes_changed", None)
    if callable(mark_changed):
        mark_changed()
    app.openapi_schema = None  # rebuilt with the new routes


def _included(app: FastMango, router: APIRouter) -> bool:
    """Whether the project included ``router`` in the app already, by hand.

    FastAPI keeps an included router as one route that refers to it (``original_router``); older releases
    copied its routes, which share their endpoints with the router's.
    """
    endpoints = {getattr(route, "endpoint", None) for route in router.routes} - {None}
    for route in app.router.routes:
        if getattr(route, "original_router", None) is router or getattr(route, "endpoint", None) in endpoints:
            return True
    return False
