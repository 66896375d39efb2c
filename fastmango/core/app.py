"""The application: a FastAPI subclass that wires the layers through plugins and one lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import ModuleType
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from fastmango.__about__ import __version__
from fastmango.core.discovery import discover as discover_modules
from fastmango.core.limits import document_limits
from fastmango.core.logging import configure_logging as setup_logging
from fastmango.core.plugins import Plugin, load_plugin
from fastmango.core.problems import document_problems, install_problem_handlers
from fastmango.core.request_middleware import RequestMiddleware
from fastmango.core.route_gates import gate_routes
from fastmango.core.route_index import install_route_index
from fastmango.core.settings import Settings
from fastmango.core.welcome import install_welcome

logger = logging.getLogger("fastmango")

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


class FastMango(FastAPI):
    """A FastAPI application with fastmango's layers wired in.

    Args:
        settings: The project's settings; ``Settings()`` (environment and ``.env``) when omitted.
        plugins: Plugins to use instead of ``settings.plugins``; objects or ``"module:Class"`` paths.
        configure_logging: Configure stdlib logging from the settings (on by default).
        discover: Load the project's ``models``, ``tasks``, ``tools``, ``admin`` and ``routes`` modules (and
            include ``routes.router``) when the app is configured; see :mod:`fastmango.core.discovery`. The
            project is the package the settings class is declared in.
        **kwargs: Passed to :class:`fastapi.FastAPI` (``title``, ``lifespan``, ``routes``...).

    Raises:
        ImproperlyConfigured: the settings must not run (for example DEBUG on in prod).
    """

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        plugins: Sequence[str | Plugin] | None = None,
        configure_logging: bool = True,
        discover: bool = True,
        **kwargs: Any,
    ) -> None:
        settings = settings if settings is not None else Settings()
        settings.check()
        self.settings = settings
        self.plugins: list[Plugin] = [load_plugin(p) for p in (settings.plugins if plugins is None else plugins)]
        self._configured = False
        self._discover = discover
        self.discovered: list[ModuleType] | None = None  # the project modules loaded, once configured
        user_lifespan: Lifespan | None = kwargs.pop("lifespan", None)
        kwargs.setdefault("title", settings.project_name)
        kwargs.setdefault("version", __version__)
        # Starlette's debug mode answers errors with its own HTML/text pages; fastmango always answers with
        # problem details and adds the traceback itself when settings.debug is on.
        kwargs["debug"] = False
        super().__init__(lifespan=self._lifespan_with(user_lifespan), **kwargs)
        if configure_logging:
            setup_logging(settings)
        self.state.settings = settings
        install_problem_handlers(self)
        self.add_api_route(
            "/health",
            self._health,
            methods=["GET"],
            tags=["health"],
            operation_id="health",
            summary="Liveness check",
        )
        # The router's not-found handler: it answers only when no route, added now or later, matches "/".
        install_welcome(self)
        for plugin in self.plugins:
            plugin.install(self)
        #: Where the project's own routes begin (after /health and the plugins'): discovered routes go here.
        self.user_routes_start = len(self.router.routes)
        # Added last, so outermost: plugins' middleware (authentication...) logs with the request id too, and an
        # exception escaping it is answered without closing the connection (fastmango.core.request_middleware).
        self.add_middleware(RequestMiddleware, max_body_size=settings.max_body_size)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document, with error responses documented as the problem details they are."""
        if self.openapi_schema is None:
            self.openapi_schema = document_limits(document_problems(super().openapi()), self.settings)
        return self.openapi_schema

    async def _health(self) -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    def add_plugin_routes(self, router: APIRouter) -> None:
        """Add a plugin's routes to the app as plain routes.

        ``include_router`` would keep the plugin's router as one more router that FastAPI walks for every
        request to a user route; the routes themselves (prefix, tags and responses already applied) are cheaper.
        """
        for route in router.routes:
            if isinstance(route, APIRoute):
                self.router.routes.append(route)
            else:
                self.include_router(APIRouter(routes=[route]))

    def configure_plugins(self) -> None:
        """Load the project's modules (once), then run every plugin's ``configure`` hook (no I/O).

        Used by the lifespan, by ``setup()`` and so by the CLI and the worker: each loads the same modules.

        Raises:
            ImproperlyConfigured: a project module fails to import; the message names it.
        """
        if self._configured:
            return
        if self.discovered is None:
            self.discovered = discover_modules(self) if self._discover else []
        for plugin in self.plugins:
            plugin.configure(self)
        self._configured = True

    def reset_configuration(self) -> None:
        """Make the next :meth:`configure_plugins` run every plugin's ``configure`` hook again.

        For a caller that configured the app and then let go of what the hooks set up (the lifespan at
        shutdown, a second ``setup()`` after disconnecting): the next start configures afresh, for example a
        new database engine. The project's modules stay loaded; they are not imported again.
        """
        self._configured = False

    def _lifespan_with(self, user_lifespan: Lifespan | None) -> Lifespan:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
            self.configure_plugins()
            gate_routes(self.router.routes)  # every route is in place now: the project's modules are loaded
            install_route_index(self.router)
            started: list[Plugin] = []
            try:
                for plugin in self.plugins:
                    await plugin.startup(self)
                    started.append(plugin)
                if user_lifespan is None:
                    yield None
                else:
                    async with user_lifespan(app) as state:
                        yield state
            finally:
                for plugin in reversed(started):
                    try:
                        await plugin.shutdown(self)
                    except Exception:
                        logger.exception("plugin %s failed to shut down", plugin.name)
                self.reset_configuration()

        return lifespan
