"""Wires the database into a FastMango app: configured from settings, checked at start-up, closed at shutdown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastmango.core.plugins import BasePlugin
from fastmango.db import engine

if TYPE_CHECKING:
    from fastmango.core.app import FastMango


class DatabasePlugin(BasePlugin):
    """Connects ``settings.database_url`` for the app's lifetime."""

    name = "db"

    def configure(self, app: FastMango) -> None:
        settings = app.settings
        app.state.database = engine.configure(
            settings.database_url, echo=settings.database_echo, pool_size=settings.database_pool_size
        )

    async def startup(self, app: FastMango) -> None:
        await app.state.database.ping()

    async def shutdown(self, app: FastMango) -> None:
        await engine.disconnect()
