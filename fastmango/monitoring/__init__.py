"""Monitoring: request/DB metrics, health, log stream, alerts, dashboard.

Nothing public here yet; the layer exists so that imports keep the direction ARCHITECTURE.md gives.
"""

__all__: list[str] = []
