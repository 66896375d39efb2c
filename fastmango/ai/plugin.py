"""Wires the AI layer into a FastMango app: the settings agents resolve model aliases with, checked at start,
and the agents' tool names and the routes' ``use_agent`` names, checked once discovery has loaded the project.

Nothing here imports Pydantic AI: a basic app starts without it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastmango.ai.agents import check_agents, state
from fastmango.ai.llm import check_models
from fastmango.ai.metering import meter
from fastmango.core.plugins import BasePlugin

if TYPE_CHECKING:
    from fastmango.core.app import FastMango


class AIPlugin(BasePlugin):
    """Checks ``ai_models``, the agents' tools and the routes' agents at start-up; makes the app's settings the
    agents' settings."""

    name = "ai"
    migrations = "fastmango.ai.migrations"

    def __init__(self) -> None:
        self._mcp: Any = None
        self._mcp_task: asyncio.Task[None] | None = None
        self._mcp_stop: asyncio.Event | None = None

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
        check_agents(app)  # the registry is complete: discovery ran before the plugins' configure hooks

    async def startup(self, app: FastMango) -> None:
        if self._mcp is not None:
            # The session manager's task group must be left in the task that entered it, and the app may stop in
            # another task than it started in (the worker starts plugins in arq's main task, stops them in its
            # own): it runs in a task of its own, which startup starts and shutdown ends.
            started, self._mcp_stop = asyncio.Event(), asyncio.Event()
            self._mcp_task = asyncio.create_task(self._run_mcp(started, self._mcp_stop), name="fastmango-mcp")
            waiting = asyncio.ensure_future(started.wait())
            await asyncio.wait([waiting, self._mcp_task], return_when=asyncio.FIRST_COMPLETED)
            if not started.is_set():
                waiting.cancel()
                task, self._mcp_task = self._mcp_task, None
                await task  # it ended before it started: its error is the start-up's

    async def _run_mcp(self, started: asyncio.Event, stop: asyncio.Event) -> None:
        async with self._mcp.session_manager.run():
            started.set()
            await stop.wait()

    async def shutdown(self, app: FastMango) -> None:
        await meter.flush()  # buffered AI usage records
        from fastmango.ai.agents import close_http_clients
        from fastmango.ai.response_cache import close_stores

        await close_stores()  # their Redis connections belong to this event loop
        await close_http_clients(app.settings)
        task, self._mcp_task = self._mcp_task, None
        if task is not None and self._mcp_stop is not None:
            self._mcp_stop.set()
            await task
