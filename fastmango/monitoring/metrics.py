"""The in-process registry of metrics: counters, histograms and gauges as plain dict increments.

Every observation adds to the registry's deltas, which ``Registry.take()`` hands over as a dict keyed by
:data:`Key` (metric name, labels, part); nothing here awaits or talks to Redis.
:class:`fastmango.monitoring.monitor.Monitor` moves the deltas to its store every ``metrics_flush_seconds``. A
histogram is stored as additive parts (``b0``... the count of each bucket, not cumulative, ``sum`` and ``count``),
so that the sum over processes or minutes of each part is the histogram of the whole: Redis ``HINCRBYFLOAT`` adds
them up.

:data:`METRICS` is the catalogue: each metric's type, help text, labels and buckets, read by the exposition.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

Labels = tuple[str, ...]
#: (metric name, label values in the catalogue's order, part: "" for a counter, "b<i>", "sum", "count").
Key = tuple[str, Labels, str]
Deltas = dict[Key, float]

#: Seconds: HTTP requests, statements, task runs, waits.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
COUNT_BUCKETS = (0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 500.0)


@dataclass(frozen=True)
class Metric:
    """One metric of the catalogue (its exposed name is ``fastmango_<name>``, counters end in ``_total``)."""

    name: str
    type: str  # "counter", "histogram" or "gauge"
    help: str
    labels: Labels = ()
    buckets: tuple[float, ...] = ()


_CATALOGUE = [
    Metric("http_requests", "counter", "HTTP requests answered", ("route", "method", "status")),
    Metric("http_request_duration_seconds", "histogram", "HTTP request time", ("route", "method"), LATENCY_BUCKETS),
    Metric("http_requests_in_flight", "gauge", "HTTP requests being answered", ("process",)),
    Metric("db_statements", "counter", "SQL statements run"),
    Metric("db_statement_duration_seconds", "histogram", "SQL statement time", (), LATENCY_BUCKETS),
    Metric("db_statements_per_request", "histogram", "SQL statements per HTTP request", (), COUNT_BUCKETS),
    Metric("db_slow_statements", "counter", "Statements slower than metrics_slow_statement_ms", ("shape",)),
    Metric("db_slow_statement_seconds", "counter", "Time of the slow statements", ("shape",)),
    Metric("task_jobs_queued", "counter", "Jobs enqueued", ("task",)),
    Metric("task_runs", "counter", "Job attempts finished, by outcome", ("task", "outcome")),
    Metric("task_run_duration_seconds", "histogram", "Job attempt time", ("task",), TASK_BUCKETS),
    Metric("task_wait_seconds", "histogram", "Seconds from enqueue to start", ("task",), TASK_BUCKETS),
    Metric("task_queue_depth", "gauge", "Jobs waiting in the queue", ("queue",)),
    Metric("ai_requests", "counter", "AI model requests", ("model", "agent", "status")),
    Metric("ai_tokens", "counter", "AI tokens", ("model", "direction")),
    Metric("ai_cost_dollars", "counter", "AI cost in US dollars (known prices)", ("model",)),
    Metric("ai_cache_hits", "counter", "AI model requests answered from the response cache", ("model",)),
    Metric("ai_tool_calls", "counter", "AI tool calls", ("tool", "status")),
    Metric("process_resident_memory_bytes", "gauge", "Resident memory of the process", ("process",)),
    Metric("process_cpu_seconds", "gauge", "CPU seconds (user + system) the process used", ("process",)),
]
METRICS: dict[str, Metric] = {metric.name: metric for metric in _CATALOGUE}


class Registry:
    """This process's deltas since the last flush, and its gauges."""

    def __init__(self) -> None:
        self.pending: Deltas = {}  # counters; histograms join them in take()
        #: Histogram series since the last take: (name, labels) -> [bucket counts..., +Inf count, sum].
        self.histograms: dict[tuple[str, Labels], list[float]] = {}
        #: Gauges of this process: name -> value (the process label is added when they are published).
        self.gauges: dict[str, float] = {"http_requests_in_flight": 0.0}

    def inc(self, name: str, labels: Labels = (), value: float = 1.0) -> None:
        """Add ``value`` to a counter."""
        key = (name, labels, "")
        pending = self.pending
        pending[key] = pending.get(key, 0.0) + value

    def observe(self, name: str, labels: Labels, value: float) -> None:
        """Count ``value`` in a histogram (its bucket, sum and count)."""
        series = self.histograms.get((name, labels))
        if series is None:
            series = self.histograms[(name, labels)] = [0.0] * (len(METRICS[name].buckets) + 2)
        series[bisect_left(_BOUNDS[name], value)] += 1.0
        series[-1] += value

    def take(self) -> Deltas:
        """The deltas so far, leaving empty ones in their place (no await between: no increment is lost)."""
        taken, histograms = self.pending, self.histograms
        self.pending, self.histograms = {}, {}
        for (name, labels), series in histograms.items():
            *counts, total = series
            for index, count in enumerate(counts):
                if count:
                    taken[(name, labels, _BUCKET_PARTS[index])] = count
            taken[(name, labels, "sum")] = total
            taken[(name, labels, "count")] = sum(counts)
        return taken


_BUCKET_PARTS = [f"b{index}" for index in range(32)]
_BOUNDS = {name: metric.buckets for name, metric in METRICS.items()}


def merge(into: Deltas, deltas: Deltas) -> Deltas:
    """Add ``deltas`` to ``into`` (returned)."""
    for key, value in deltas.items():
        into[key] = into.get(key, 0.0) + value
    return into


def bucket_counts(values: Deltas, name: str, labels: Labels) -> list[float]:
    """The non-cumulative count of each bucket of a histogram series, the +Inf bucket last."""
    buckets = METRICS[name].buckets
    return [values.get((name, labels, _BUCKET_PARTS[index]), 0.0) for index in range(len(buckets) + 1)]


def quantile(buckets: tuple[float, ...], counts: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of a histogram, interpolated within its bucket as Prometheus' histogram_quantile
    does (None without observations; a quantile in the +Inf bucket is the highest finite bound)."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    seen = 0.0
    for index, count in enumerate(counts):
        if seen + count >= rank and count > 0:
            if index == len(buckets):
                return buckets[-1]
            lower = buckets[index - 1] if index > 0 else 0.0
            return lower + (buckets[index] - lower) * (rank - seen) / count
        seen += count
    return buckets[-1]
