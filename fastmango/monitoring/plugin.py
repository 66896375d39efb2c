"""Wires monitoring into a FastMango app: its permissions, and (as they are built) metrics, ``/metrics``, the
task monitor, the log stream and alerts, each from its own module. Every app has it unless ``settings.plugins``
leaves ``fastmango.monitoring.plugin:MonitoringPlugin`` out.

Metrics (``settings.metrics``, on by default): the HTTP middleware, ``/metrics``, the dashboard's overview API;
at startup the statement, job and AI receivers and the background flush (also in ``fastmango worker``, which
runs the app's lifespan), stopped at shutdown. Live logs (``settings.logstream``): the log handler, its stream and
its API. The task monitor's API (its job-events record is the tasks layer's). The admin API routes go ahead of
the admin's catch-all page route.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastmango.core.plugins import BasePlugin
from fastmango.monitoring import permissions  # noqa: F401  (declares monitoring.view and monitoring.change)
from fastmango.monitoring.routing import add_before_admin_fallback

if TYPE_CHECKING:
    from fastmango.core.app import FastMango
    from fastmango.monitoring.alerts_setup import Alerts
    from fastmango.monitoring.collectors import Receivers
    from fastmango.monitoring.logstream import LogStream
    from fastmango.monitoring.monitor import Monitor


class MonitoringPlugin(BasePlugin):
    """The monitoring layer."""

    name = "monitoring"
    migrations = "fastmango.monitoring.migrations"  # the alert rules

    def __init__(self) -> None:
        self.monitor: Monitor | None = None
        self.receivers: Receivers | None = None
        self.logstream: LogStream | None = None
        self.alerts: Alerts | None = None

    def install(self, app: FastMango) -> None:
        """Add the monitoring routes and middleware."""
        from fastmango.monitoring.alerts_setup import install_alerts
        from fastmango.monitoring.logstream_api import install_logstream
        from fastmango.monitoring.readiness import install_readiness
        from fastmango.monitoring.task_monitor import task_monitor_router

        settings = app.settings
        if settings.metrics:
            self._install_metrics(app)
        self.logstream = install_logstream(app)
        add_before_admin_fallback(app, task_monitor_router(settings))
        self.alerts = install_alerts(app)  # the admin's alert rules and the delivery task
        install_readiness(app)  # GET /ready (fastmango.monitoring.readiness)

    def _install_metrics(self, app: FastMango) -> None:
        from fastmango.monitoring.middleware import MetricsMiddleware
        from fastmango.monitoring.monitor import Monitor
        from fastmango.monitoring.routes import dashboard_router, metrics_router

        settings = app.settings
        monitor = self.monitor = app.state.monitor = Monitor(settings)
        if settings.logfire:  # the same metrics through OpenTelemetry; imports logfire, so only then
            from fastmango.monitoring.otel_export import export_metrics

            export_metrics(monitor)  # replaces monitor.registry: before the middleware takes it
        app.add_middleware(MetricsMiddleware, registry=monitor.registry)
        app.add_plugin_routes(metrics_router(monitor, "/" + settings.metrics_path.strip("/")))
        admin_api = "/" + settings.admin_path.strip("/") + "/api"
        add_before_admin_fallback(app, dashboard_router(monitor, admin_api))

    async def startup(self, app: FastMango) -> None:
        if self.logstream is not None:
            await self.logstream.start()
        if self.monitor is None:
            return
        from fastmango.monitoring.collectors import Receivers, queue_depth_reader
        from fastmango.tasks.backends import get_backend

        self.receivers = Receivers(self.monitor, app.settings.metrics_slow_statement_ms / 1000)
        self.receivers.connect()
        try:
            self.monitor.queue_depth = queue_depth_reader(get_backend())
        except Exception:  # no task backend configured (the tasks plugin left out)
            self.monitor.queue_depth = None
        self.monitor.start()
        if self.alerts is not None:
            await self.alerts.startup(app)  # evaluates on app.state.monitor

    async def shutdown(self, app: FastMango) -> None:
        if self.alerts is not None:
            await self.alerts.shutdown()
        if self.receivers is not None:
            self.receivers.disconnect()
            self.receivers = None
        if self.monitor is not None:
            await self.monitor.stop()
        if self.logstream is not None:
            await self.logstream.stop()
