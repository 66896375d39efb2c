"""Wires the AI layer into a FastMango app: the settings agents resolve model aliases with, checked at start.

Nothing here imports Pydantic AI: a basic app starts without it.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from fastmango.ai.agents import state
from fastmango.ai.llm import check_models
from fastmango.ai.metering import meter
from fastmango.core.plugins import BasePlugin

if TYPE_CHECKING:
    from fastmango.core.app import FastMango


class AIPlugin(BasePlugin):
    """Checks ``ai_models`` at start-up and makes the app's settings the agents' settings."""

    name = "ai"
    migrations = "fastmango.ai.migrations"

    def __init__(self) -> None:
        self._mcp: Any = None
        self._stack: AsyncExitStack | None = None

    def install(self, app: FastMango) -> None:
        check_models(app.settings)
        from fastmango.ai.usage_report import router

        app.add_plugin_routes(router)  # GET /ai/usage, staff only
        if app.settings.ai_mcp:
            from fastmango.ai.mcp import mount

            self._mcp = mount(app)

    def configure(self, app: FastMango) -> None:
        state.settings = app.settings
        state.app = app
        meter.configure(app.settings)

    async def startup(self, app: FastMango) -> None:
        if self._mcp is not None:
            self._stack = AsyncExitStack()
            await self._stack.enter_async_context(self._mcp.session_manager.run())

    async def shutdown(self, app: FastMango) -> None:
        await meter.flush()  # buffered AI usage records
        from fastmango.ai.agents import close_http_clients
        from fastmango.ai.response_cache import close_stores

        await close_stores()  # their Redis connections belong to this event loop
        await close_http_clients(app.settings)
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
