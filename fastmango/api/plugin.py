"""Wires the API layer into a FastMango app: the history table's migrations and the ``api_history`` setting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastmango.api.history import history
from fastmango.core.plugins import BasePlugin

if TYPE_CHECKING:
    from fastmango.core.app import FastMango


class APIPlugin(BasePlugin):
    """Every app has it unless ``settings.plugins`` leaves ``fastmango.api.plugin:APIPlugin`` out: it ships the
    history table (``fastmango migrate`` creates ``api_history``) and turns the history on or off."""

    name = "api"
    migrations = "fastmango.api.migrations"

    def configure(self, app: FastMango) -> None:
        history.enabled = app.settings.api_history

    async def shutdown(self, app: FastMango) -> None:
        history.enabled = False  # code run without an app (no plugin, maybe no table) records nothing
