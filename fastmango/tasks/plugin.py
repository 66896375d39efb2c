"""Wires background tasks into a FastMango app: the backend from settings, the status API, cron schedules, and
the job-events record (its table ships as the ``fastmango_tasks`` migrations branch)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastmango.core.plugins import BasePlugin
from fastmango.tasks import backends
from fastmango.tasks.discovery import import_project_tasks
from fastmango.tasks.events import events
from fastmango.tasks.routes import router

if TYPE_CHECKING:
    from fastmango.core.app import FastMango


class TasksPlugin(BasePlugin):
    """Every app has it unless ``settings.plugins`` leaves ``fastmango.tasks.plugin:TasksPlugin`` out.

    ``configure`` creates the backend the settings select (inline, or arq with ``REDIS_URL``) without I/O;
    ``startup`` imports the project's ``tasks`` module, then connects to Redis (arq) or starts the cron
    schedules (inline); ``shutdown`` disconnects, or lets running inline jobs finish and cancels the rest, then
    writes the buffered job events.
    """

    name = "tasks"
    migrations = "fastmango.tasks.migrations"

    def install(self, app: FastMango) -> None:
        app.add_plugin_routes(router)

    def configure(self, app: FastMango) -> None:
        app.state.tasks = backends.configure(app.settings)
        events.configure(app.settings)

    async def startup(self, app: FastMango) -> None:
        import_project_tasks()
        await app.state.tasks.start()

    async def shutdown(self, app: FastMango) -> None:
        await app.state.tasks.close()
        await events.flush()  # buffered job events, the last jobs' included
