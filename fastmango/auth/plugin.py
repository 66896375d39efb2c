"""Wires auth into a FastMango app: routes under /auth, the authentication middleware, password hashing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastmango.auth.backend import AuthBackend
from fastmango.auth.middleware import AuthenticationMiddleware
from fastmango.auth.passwords import configure_password_hashing
from fastmango.auth.routes import router
from fastmango.core.plugins import BasePlugin

if TYPE_CHECKING:
    from fastmango.core.app import FastMango


class AuthPlugin(BasePlugin):
    """Every app has it unless ``settings.plugins`` leaves ``fastmango.auth.plugin:AuthPlugin`` out."""

    name = "auth"
    migrations = "fastmango.auth.migrations"

    def install(self, app: FastMango) -> None:
        app.state.auth = AuthBackend(app.settings)
        app.add_plugin_routes(router)
        app.add_middleware(AuthenticationMiddleware, backend=app.state.auth)

    def configure(self, app: FastMango) -> None:
        settings = app.settings
        configure_password_hashing(
            time_cost=settings.password_argon2_time_cost, memory_kib=settings.password_argon2_memory_kib
        )

    async def shutdown(self, app: FastMango) -> None:
        await app.state.auth.close()
