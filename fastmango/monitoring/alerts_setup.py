"""Alerts in a FastMango app: the rules' admin registration at install, the evaluator from startup to shutdown.

The monitoring plugin wires it::

    migrations = MIGRATIONS                                  # the plugin's attribute: monitoring_alert_rule
    self.alerts = install_alerts(app)                        # in install(), after the metrics (app.state.monitor)
    await self.alerts.startup(app)                           # in startup(), after the monitor started
    await self.alerts.shutdown()                             # in shutdown(), before the monitor stops
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastmango.monitoring.alerts_admin import register_alert_rules
from fastmango.monitoring.alerts_evaluator import AlertEvaluator, ValueSource

if TYPE_CHECKING:
    from fastmango.core.app import FastMango

logger = logging.getLogger("fastmango.alerts")

#: The package of the monitoring layer's Alembic revisions (the monitoring plugin's ``migrations``).
MIGRATIONS = "fastmango.monitoring.migrations"


class Alerts:
    """An app's alerts: its evaluator while the app runs (``app.state.alerts``)."""

    def __init__(self) -> None:
        self.evaluator: AlertEvaluator | None = None

    async def startup(self, app: FastMango, source: ValueSource | None = None) -> None:
        """Start evaluating the rules every ``alerts_interval_seconds`` (unless ``alerts`` is off).

        Args:
            app: The app; its ``state.monitor`` is the value source unless ``source`` is given.
            source: Where to read metrics instead (tests).
        """
        settings = app.settings
        if not settings.alerts or self.evaluator is not None:
            return
        source = source if source is not None else getattr(app.state, "monitor", None)
        if source is None:
            logger.info("alert rules are not evaluated: metrics are off (settings.metrics)")
            return
        self.evaluator = AlertEvaluator(source, settings)
        self.evaluator.start()

    async def shutdown(self) -> None:
        """Stop the evaluator (and give up its lock)."""
        evaluator, self.evaluator = self.evaluator, None
        if evaluator is not None:
            await evaluator.stop()


def install_alerts(app: FastMango) -> Alerts:
    """Register the alert rules in the app's admin (when it has one) and load the delivery task; the handle
    whose ``startup``/``shutdown`` run the evaluator."""
    from fastmango.monitoring.notifiers import configure_delivery  # registers the delivery task, for workers too

    configure_delivery(app.settings)  # a worker delivers with the app's retries, evaluator or not
    admin_site = getattr(app.state, "admin", None)
    if admin_site is not None:
        register_alert_rules(admin_site)
    alerts = app.state.alerts = Alerts()
    return alerts
