"""``/metrics``: the summed metrics in Prometheus' text format, through prometheus-client.

The only module that imports ``prometheus_client``, on the first scrape. A custom collector turns a
:class:`~fastmango.monitoring.monitor.Snapshot` (totals summed over every process, each live process's gauges)
into metric families; ``generate_latest`` writes them with a registry of its own (not prometheus-client's global
one, which holds only this process's values).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from fastmango.monitoring.metrics import METRICS, Labels, bucket_counts
from fastmango.monitoring.monitor import Snapshot

PREFIX = "fastmango_"
CONTENT_TYPE = CONTENT_TYPE_LATEST


class SnapshotCollector:
    """Yields the families of a snapshot."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        totals = self.snapshot.totals
        series: dict[str, set[Labels]] = {}
        for name, labels, _ in totals:
            series.setdefault(name, set()).add(labels)
        for metric in METRICS.values():
            name, label_names = PREFIX + metric.name, list(metric.labels)
            if metric.type == "counter":
                counter = CounterMetricFamily(name, metric.help, labels=label_names)
                for values in sorted(series.get(metric.name, ())):
                    counter.add_metric(list(values), totals[(metric.name, values, "")])
                yield counter
            elif metric.type == "histogram":
                histogram = HistogramMetricFamily(name, metric.help, labels=label_names)
                bounds = [_go_float(bound) for bound in metric.buckets] + ["+Inf"]
                for values in sorted(series.get(metric.name, ())):
                    cumulative, buckets = 0.0, []
                    for bound, count in zip(bounds, bucket_counts(totals, metric.name, values), strict=True):
                        cumulative += count
                        buckets.append((bound, cumulative))
                    histogram.add_metric(list(values), buckets, totals.get((metric.name, values, "sum"), 0.0))
                yield histogram
            else:
                yield self._gauge(metric.name, name, metric.help, label_names)

    def _gauge(self, short: str, name: str, help: str, labels: list[str]) -> GaugeMetricFamily:
        gauge = GaugeMetricFamily(name, help, labels=labels)
        if short == "task_queue_depth":
            for queue, depth in sorted(self.snapshot.queue_depth.items()):
                gauge.add_metric([queue], depth)
        else:
            for process, values in sorted(self.snapshot.gauges.items()):
                if short in values:
                    gauge.add_metric([process], values[short])
        return gauge

    def describe(self) -> list[Any]:
        return []


def _go_float(bound: float) -> str:
    """A bucket bound as Prometheus writes ``le`` (``0.005``, ``1.0``, ``30.0``)."""
    return repr(float(bound))


def render(snapshot: Snapshot) -> bytes:
    """The snapshot in Prometheus' text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return bytes(generate_latest(registry))
