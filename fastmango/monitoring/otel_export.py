"""The metrics through OpenTelemetry when ``settings.logfire`` is on (Logfire's meter; imported only then).

Each process exports its own metrics, never the summed snapshot: the snapshot already holds every worker's
counts, so N workers exporting it would count each request N times. The OpenTelemetry resource tells the
processes apart and the backend sums them, as it does for any service (with Logfire's delta temporality each
process sends what it added since its last export).

- Counters are observable counters (``fastmango_http_requests``...): a callback reads this process's running
  totals at export time, so a request costs nothing more than the registry's dict increment.
- Histograms are OpenTelemetry histograms fed with each observation, so the backend has the distribution
  (Logfire aggregates them in exponential buckets) and not only a count and a sum.
- Gauges are observable gauges of this process (in-flight requests, RSS, CPU seconds), with the same ``process``
  label as ``/metrics``. The queue depth is the queue's, not a process's: it stays with ``/metrics``.

With Logfire off nothing imports this module, so neither ``logfire`` nor the OpenTelemetry SDK is loaded.

OpenTelemetry keeps one instrument per name and drops the callbacks of a second one, so the instruments are made
once per process and read the registry of the last app that installed the export (an app per process when
deployed; in tests a new app takes over).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING

import logfire
from opentelemetry.metrics import CallbackOptions, CallbackT, Histogram, Observation

from fastmango.monitoring.metrics import METRICS, Deltas, Labels, Metric, Registry, merge
from fastmango.monitoring.monitor import process_gauges

if TYPE_CHECKING:
    from fastmango.monitoring.monitor import Monitor

PREFIX = "fastmango_"
_histograms: dict[str, Histogram] = {}
_current: weakref.ref[ExportingRegistry] | None = None


class ExportingRegistry(Registry):
    """A registry that also keeps this process's running counter totals and feeds the histograms.

    The export's callbacks run in the metric reader's thread: the lock makes a read see the totals and the
    pending deltas either before a flush's ``take`` or after it, never the deltas in neither (a counter going
    back).
    """

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process
        self.totals: Deltas = {}
        self._lock = threading.Lock()

    def observe(self, name: str, labels: Labels, value: float) -> None:
        super().observe(name, labels, value)
        _histograms[name].record(value, _attributes(METRICS[name], labels))

    def take(self) -> Deltas:
        with self._lock:
            taken = super().take()
            merge(self.totals, {key: value for key, value in taken.items() if not key[2]})  # counters: part ""
        return taken

    def counter_totals(self, name: str) -> dict[Labels, float]:
        """The running total of each series of a counter in this process."""
        with self._lock:
            values = merge(self.totals.copy(), self.pending.copy())
        return {labels: value for (metric, labels, part), value in values.items() if metric == name and not part}


def export_metrics(monitor: Monitor) -> ExportingRegistry:
    """Export ``monitor``'s metrics through OpenTelemetry from now on; call it before anything holds
    ``monitor.registry`` (the middleware, the receivers), which it replaces."""
    global _current
    if not _histograms:
        _make_instruments()
    registry = monitor.registry = ExportingRegistry(monitor.process)
    _current = weakref.ref(registry)
    return registry


def _make_instruments() -> None:
    for metric in METRICS.values():
        name, unit = PREFIX + metric.name, _unit(metric.name)
        if metric.type == "counter":
            logfire.metric_counter_callback(name, callbacks=[_counter(metric)], unit=unit, description=metric.help)
        elif metric.type == "histogram":
            _histograms[metric.name] = logfire.metric_histogram(name, unit=unit, description=metric.help)
        elif metric.name != "task_queue_depth":
            logfire.metric_gauge_callback(name, callbacks=[_gauge(metric.name)], unit=unit, description=metric.help)


def _counter(metric: Metric) -> CallbackT:
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        registry = _current() if _current is not None else None
        if registry is None:
            return []
        totals = registry.counter_totals(metric.name)
        return [Observation(value, _attributes(metric, labels)) for labels, value in sorted(totals.items())]

    return observe


def _gauge(name: str) -> CallbackT:
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        registry = _current() if _current is not None else None
        if registry is None:
            return []
        value = registry.gauges.get(name)
        if value is None:
            value = process_gauges().get(name)
        return [] if value is None else [Observation(value, {"process": registry.process})]

    return observe


def _attributes(metric: Metric, labels: Labels) -> dict[str, str]:
    return dict(zip(metric.labels, labels, strict=True))


def _unit(name: str) -> str:
    """The UCUM unit OpenTelemetry expects, from the name's suffix."""
    if name.endswith("_seconds"):
        return "s"
    if name.endswith("_bytes"):
        return "By"
    if name.endswith("_dollars"):
        return "USD"
    return ""  # a count
