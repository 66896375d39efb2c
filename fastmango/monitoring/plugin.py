"""Wires monitoring into a FastMango app: its permissions, and (as they are built) metrics, ``/metrics``, the
task monitor, the log stream and alerts, each from its own module. Every app has it unless ``settings.plugins``
leaves ``fastmango.monitoring.plugin:MonitoringPlugin`` out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastmango.core.plugins import BasePlugin
from fastmango.monitoring import permissions  # noqa: F401  (declares monitoring.view and monitoring.change)

if TYPE_CHECKING:
    from fastmango.core.app import FastMango


class MonitoringPlugin(BasePlugin):
    """The monitoring layer."""

    name = "monitoring"

    def install(self, app: FastMango) -> None:
        """Add the monitoring routes and middleware."""
