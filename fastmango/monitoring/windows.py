"""A window of the dashboard (15 min, 1 h, 24 h) summed from the store's minute or hour buckets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel

from fastmango.monitoring.metrics import METRICS, Deltas, Labels, bucket_counts, merge, quantile


class RouteStat(BaseModel):
    route: str
    method: str
    requests: int
    errors: int
    avg_ms: float
    p95_ms: float | None


class StatementStat(BaseModel):
    shape: str
    count: int
    total_ms: float
    avg_ms: float
    sql: str | None


class TaskStat(BaseModel):
    task: str
    queued: int = 0
    succeeded: int = 0
    retried: int = 0
    failed: int = 0
    avg_runtime_ms: float | None = None
    p95_runtime_ms: float | None = None
    avg_wait_ms: float | None = None


class Tasks(BaseModel):
    queued: int = 0
    succeeded: int = 0
    retried: int = 0
    failed: int = 0
    failure_rate: float = 0.0
    runtime_p95_ms: float | None = None
    wait_avg_ms: float | None = None
    by_task: list[TaskStat] = []


class AIUsage(BaseModel):
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    cache_hits: int = 0
    cache_hit_rate: float = 0.0
    tool_calls: int = 0


class Point(BaseModel):
    at: datetime
    requests: int
    errors: int
    p95_ms: float | None


class WindowSummary(BaseModel):
    """What every process measured in the last ``seconds`` (rates are per second, durations in ms)."""

    seconds: int
    resolution: str
    start: datetime
    end: datetime
    requests: int = 0
    request_rate: float = 0.0
    errors: int = 0  # 5xx answers
    client_errors: int = 0  # 4xx answers
    error_rate: float = 0.0  # errors / requests
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    statements: int = 0
    statements_per_request: float = 0.0
    statement_avg_ms: float | None = None
    slow_statement_count: int = 0
    slow_statements: list[StatementStat] = []
    slowest_routes: list[RouteStat] = []
    tasks: Tasks = Tasks()
    ai: AIUsage = AIUsage()
    timeline: list[Point] = []
    processes: int = 0
    queue_depth: dict[str, float] = {}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _p(values: Deltas, name: str, labels: Labels, q: float) -> float | None:
    return quantile(METRICS[name].buckets, bucket_counts(values, name, labels), q)


def _merged_histogram(values: Deltas, name: str) -> list[float]:
    """The bucket counts of every series of a histogram together."""
    total = [0.0] * (len(METRICS[name].buckets) + 1)
    for (series, _labels, part), value in values.items():
        if series == name and part.startswith("b"):
            total[int(part[1:])] += value
    return total


def summarize(
    buckets: dict[int, Deltas], *, seconds: int, resolution: str, start: datetime, end: datetime, slow_limit: int = 10
) -> tuple[WindowSummary, list[str]]:
    """The summary of the window's buckets, and the slow statement shapes it lists (for their SQL)."""
    values: Deltas = {}
    for deltas in buckets.values():
        merge(values, deltas)
    summary = WindowSummary(seconds=seconds, resolution=resolution, start=start, end=end)
    routes: dict[tuple[str, str], list[float]] = {}
    slow: dict[str, list[float]] = {}
    tasks: dict[str, TaskStat] = {}
    ai = summary.ai
    for (name, labels, _part), value in values.items():
        if name == "http_requests":
            route, method, status = labels
            stat = routes.setdefault((route, method), [0.0, 0.0])
            stat[0] += value
            summary.requests += int(value)
            if status.startswith("5"):
                stat[1] += value
                summary.errors += int(value)
            elif status.startswith("4"):
                summary.client_errors += int(value)
        elif name == "db_statements":
            summary.statements += int(value)
        elif name in ("db_slow_statements", "db_slow_statement_seconds"):
            slow.setdefault(labels[0], [0.0, 0.0])[0 if name == "db_slow_statements" else 1] += value
        elif name == "task_jobs_queued":
            tasks.setdefault(labels[0], TaskStat(task=labels[0])).queued += int(value)
        elif name == "task_runs":
            stat_ = tasks.setdefault(labels[0], TaskStat(task=labels[0]))
            setattr(stat_, labels[1], getattr(stat_, labels[1]) + int(value))
        elif name == "ai_requests":
            ai.requests += int(value)
            ai.errors += int(value) if labels[2] != "ok" else 0
        elif name == "ai_tokens":
            if labels[1] == "input":
                ai.input_tokens += int(value)
            else:
                ai.output_tokens += int(value)
        elif name == "ai_cost_dollars":
            ai.cost += value
        elif name == "ai_cache_hits":
            ai.cache_hits += int(value)
        elif name == "ai_tool_calls":
            ai.tool_calls += int(value)
    summary.request_rate = round(summary.requests / seconds, 4)
    summary.error_rate = round(summary.errors / summary.requests, 4) if summary.requests else 0.0
    latency = METRICS["http_request_duration_seconds"].buckets
    merged = _merged_histogram(values, "http_request_duration_seconds")
    summary.latency_p50_ms = _ms(quantile(latency, merged, 0.5))
    summary.latency_p95_ms = _ms(quantile(latency, merged, 0.95))
    summary.latency_p99_ms = _ms(quantile(latency, merged, 0.99))
    if summary.requests:
        summary.statements_per_request = round(
            values.get(("db_statements_per_request", (), "sum"), 0.0) / summary.requests, 3
        )
    count = values.get(("db_statement_duration_seconds", (), "count"), 0.0)
    if count:
        summary.statement_avg_ms = _ms(values.get(("db_statement_duration_seconds", (), "sum"), 0.0) / count)
    route_stats = []
    for (route, method), (requests, errors) in routes.items():
        labels = (route, method)
        total = values.get(("http_request_duration_seconds", labels, "sum"), 0.0)
        route_stats.append(
            RouteStat(
                route=route,
                method=method,
                requests=int(requests),
                errors=int(errors),
                avg_ms=round(total / requests * 1000, 3) if requests else 0.0,
                p95_ms=_ms(_p(values, "http_request_duration_seconds", labels, 0.95)),
            )
        )
    summary.slowest_routes = sorted(route_stats, key=lambda s: (s.p95_ms or 0.0, s.avg_ms), reverse=True)[:10]
    statements = [
        StatementStat(shape=shape, count=int(n), total_ms=round(t * 1000, 3), avg_ms=round(t / n * 1000, 3), sql=None)
        for shape, (n, t) in slow.items()
        if n
    ]
    summary.slow_statement_count = int(sum(n for n, _ in slow.values()))
    summary.slow_statements = sorted(statements, key=lambda s: s.avg_ms, reverse=True)[:slow_limit]
    summary.tasks = _tasks(values, tasks)
    summary.ai.cost = round(ai.cost, 6)
    summary.ai.cache_hit_rate = round(ai.cache_hits / ai.requests, 4) if ai.requests else 0.0
    summary.timeline = _timeline(buckets, resolution)
    return summary, [statement.shape for statement in summary.slow_statements]


def _tasks(values: Deltas, by_task: dict[str, TaskStat]) -> Tasks:
    for name, stat in by_task.items():
        runs = values.get(("task_run_duration_seconds", (name,), "count"), 0.0)
        if runs:
            stat.avg_runtime_ms = _ms(values.get(("task_run_duration_seconds", (name,), "sum"), 0.0) / runs)
            stat.p95_runtime_ms = _ms(_p(values, "task_run_duration_seconds", (name,), 0.95))
        waits = values.get(("task_wait_seconds", (name,), "count"), 0.0)
        if waits:
            stat.avg_wait_ms = _ms(values.get(("task_wait_seconds", (name,), "sum"), 0.0) / waits)
    tasks = Tasks(by_task=sorted(by_task.values(), key=lambda s: s.task))
    for stat in by_task.values():
        tasks.queued += stat.queued
        tasks.succeeded += stat.succeeded
        tasks.retried += stat.retried
        tasks.failed += stat.failed
    finished = tasks.succeeded + tasks.failed
    tasks.failure_rate = round(tasks.failed / finished, 4) if finished else 0.0
    runtime = METRICS["task_run_duration_seconds"].buckets
    tasks.runtime_p95_ms = _ms(quantile(runtime, _merged_histogram(values, "task_run_duration_seconds"), 0.95))
    wait_count = sum(v for (n, _, part), v in values.items() if n == "task_wait_seconds" and part == "count")
    wait_sum = sum(v for (n, _, part), v in values.items() if n == "task_wait_seconds" and part == "sum")
    tasks.wait_avg_ms = _ms(wait_sum / wait_count) if wait_count else None
    return tasks


def _timeline(buckets: dict[int, Deltas], resolution: str) -> list[Point]:
    step = 60 if resolution == "minute" else 3600
    points = []
    latency = METRICS["http_request_duration_seconds"].buckets
    for at in sorted(buckets):
        deltas = buckets[at]
        requests = errors = 0
        for (name, labels, _), value in deltas.items():
            if name == "http_requests":
                requests += int(value)
                errors += int(value) if labels[2].startswith("5") else 0
        p95 = quantile(latency, _merged_histogram(deltas, "http_request_duration_seconds"), 0.95)
        points.append(
            Point(at=datetime.fromtimestamp(at * step, UTC), requests=requests, errors=errors, p95_ms=_ms(p95))
        )
    return points


#: The metric names :meth:`fastmango.monitoring.monitor.Monitor.value` accepts, with how each reads a summary.
VALUES: dict[str, Callable[[WindowSummary], float | None]] = {
    "requests": lambda s: float(s.requests),
    "request_rate": lambda s: s.request_rate,
    "errors": lambda s: float(s.errors),
    "error_rate": lambda s: s.error_rate,
    "client_errors": lambda s: float(s.client_errors),
    "latency_p50_ms": lambda s: s.latency_p50_ms,
    "latency_p95_ms": lambda s: s.latency_p95_ms,
    "latency_p99_ms": lambda s: s.latency_p99_ms,
    "statements": lambda s: float(s.statements),
    "statements_per_request": lambda s: s.statements_per_request,
    "slow_statements": lambda s: float(s.slow_statement_count),
    "task_queued": lambda s: float(s.tasks.queued),
    "task_succeeded": lambda s: float(s.tasks.succeeded),
    "task_retried": lambda s: float(s.tasks.retried),
    "task_failures": lambda s: float(s.tasks.failed),
    "task_failure_rate": lambda s: s.tasks.failure_rate,
    "task_runtime_p95_ms": lambda s: s.tasks.runtime_p95_ms,
    "task_wait_avg_ms": lambda s: s.tasks.wait_avg_ms,
    "queue_depth": lambda s: float(sum(s.queue_depth.values())),
    "ai_requests": lambda s: float(s.ai.requests),
    "ai_errors": lambda s: float(s.ai.errors),
    "ai_tokens": lambda s: float(s.ai.input_tokens + s.ai.output_tokens),
    "ai_cost": lambda s: s.ai.cost,
    "ai_cache_hit_rate": lambda s: s.ai.cache_hit_rate,
    "processes": lambda s: float(s.processes),
}
