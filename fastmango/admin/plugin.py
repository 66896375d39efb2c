"""Wires the admin into a FastMango app: its API under ``<admin_path>/api`` and the UI at ``admin_path``.

Every app has it unless ``settings.plugins`` leaves ``fastmango.admin.plugin:AdminPlugin`` out. The project's
``admin.py`` is loaded by discovery before the plugins' configure hooks, so ``configure`` checks the complete
site (autocomplete targets); the built-in users, groups and permissions are registered when the plugin installs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastmango.admin import assistant
from fastmango.admin.routes import admin_router
from fastmango.admin.site import AdminSite, site
from fastmango.admin.static import static_router
from fastmango.admin.users import register_defaults
from fastmango.core.plugins import BasePlugin

if TYPE_CHECKING:
    from fastmango.core.app import FastMango


class AdminPlugin(BasePlugin):
    """Serves ``site`` (the default one unless given)."""

    name = "admin"

    def __init__(self, admin_site: AdminSite | None = None) -> None:
        self.site = admin_site if admin_site is not None else site

    def install(self, app: FastMango) -> None:
        path = "/" + app.settings.admin_path.strip("/")
        if "auth_user" not in self.site:
            register_defaults(self.site)
        app.state.admin = self.site
        app.add_plugin_routes(admin_router(self.site, f"{path}/api"))
        app.add_plugin_routes(assistant.assistant_router(self.site, f"{path}/api"))
        app.add_plugin_routes(static_router(path))

    def configure(self, app: FastMango) -> None:
        self.site.check()
        assistant.check(app.settings)
