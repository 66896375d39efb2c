"""Wires the developer tools into a FastMango app: per-request records and the debug panel.

On in DEBUG (outside prod) unless ``settings.debug_panel`` is False; on in any profile when it is True, and then,
outside DEBUG, only the requests of staff users are kept. Off, nothing is installed: no middleware, no listener,
no route (``/_debug`` is a 404).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastmango.auth.permissions import declare_permission
from fastmango.core import recorder
from fastmango.core.plugins import BasePlugin
from fastmango.db import hook
from fastmango.devtools import nplusone
from fastmango.devtools.middleware import RecordingMiddleware
from fastmango.devtools.panel import PERMISSION, panel_router
from fastmango.devtools.store import MemoryStore, RecordStore, RedisStore
from fastmango.devtools.watchers import RecordLogHandler, record_query

if TYPE_CHECKING:
    from fastmango.core.app import FastMango
    from fastmango.core.settings import Settings

logger = logging.getLogger("fastmango.devtools")

declare_permission(PERMISSION, "Can view the debug panel")


def panel_enabled(settings: Settings) -> bool:
    """Whether ``settings`` turn the records and the panel on."""
    if settings.debug_panel is not None:
        return settings.debug_panel
    return bool(settings.debug) and settings.env != "prod"


def make_store(settings: Settings) -> RecordStore:
    """The store ``settings.debug_panel_store`` names (auto: Redis when ``REDIS_URL`` is set)."""
    kind = settings.debug_panel_store
    if kind == "auto":
        kind = "redis" if settings.redis_url else "memory"
    if kind == "redis":
        if not settings.redis_url:
            from fastmango.core.errors import ImproperlyConfigured

            raise ImproperlyConfigured("DEBUG_PANEL_STORE=redis needs REDIS_URL; set it, or use memory")
        return RedisStore(settings.redis_url, max_records=settings.debug_panel_max_records)
    return MemoryStore(max_records=settings.debug_panel_max_records)


class DevtoolsPlugin(BasePlugin):
    """Records requests, jobs and agent runs into a bounded store and serves the panel over it."""

    name = "devtools"

    def __init__(self) -> None:
        self.store: RecordStore | None = None
        self._handler: logging.Handler | None = None
        self._sink: Any = None

    def install(self, app: FastMango) -> None:
        settings = app.settings
        if not panel_enabled(settings):
            return
        path = "/" + settings.debug_panel_path.strip("/")
        staff_only = not settings.debug or settings.env == "prod"
        app.add_middleware(RecordingMiddleware, panel_path=path, staff_only=staff_only)
        app.add_plugin_routes(panel_router(path))

    def configure(self, app: FastMango) -> None:
        settings = app.settings
        if not panel_enabled(settings):
            return
        store = self.store = make_store(settings)
        app.state.debug_store = store
        threshold = settings.debug_n_plus_one_threshold

        async def save(record: recorder.Record) -> None:
            nplusone.analyse(record, threshold)
            for warning in record.warnings:
                logger.warning("N+1 in %s %s: %s", record.kind, record.name, warning["message"])
            await store.save(record)

        self._sink = save
        recorder.install(save)
        hook.subscribe_once(record_query)
        if self._handler is None:
            self._handler = RecordLogHandler()
            logging.getLogger().addHandler(self._handler)

    async def shutdown(self, app: FastMango) -> None:
        if self._sink is not None and recorder.installed() is self._sink:
            recorder.install(None)
            # The last app recording is gone: with no listener left, the runner stops timing every statement.
            hook.unsubscribe(record_query)
        self._sink = None
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
            self._handler = None
        if self.store is not None:
            await self.store.close()
            self.store = None
