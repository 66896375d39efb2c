"""What the lower layers announce, counted: each SQL statement (the query hook), each job event (tasks' ``job_event``),
each AI model request and tool call (ai's ``usage_recorded``), and the task queue's depth, read when scraped.

Each receiver is a few dict increments on the monitor's registry; none awaits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from fastmango.ai.metering import UsageRecord, usage_recorded
from fastmango.db import hook
from fastmango.tasks.signals import JobEvent, job_event

if TYPE_CHECKING:
    from fastmango.monitoring.monitor import Monitor

#: The statement count of the HTTP request whose task runs now (set by the metrics middleware).
request_statements: ContextVar[list[int] | None] = ContextVar("fastmango_metrics_statements", default=None)
MAX_SHAPES = 2000
_shapes: dict[str, str] = {}


def count_statement(query: hook.QueryEvent) -> None:
    """Count a statement for the request that ran it (one listener, whichever monitors there are)."""
    found = request_statements.get()
    if found is not None:
        found[0] += 1


def shape_of(sql: str) -> str:
    """A short stable name of a statement's shape: the hash of its SQL. The pipeline plans one SQL text per query
    shape (values are parameters), so equal shapes share it; statements past ``MAX_SHAPES`` distinct texts in a
    process share ``"<other>"`` (SQL with inlined values must not blow up the labels)."""
    found = _shapes.get(sql)
    if found is None:
        if len(_shapes) >= MAX_SHAPES:
            return "<other>"
        found = _shapes[sql] = hashlib.sha1(sql.encode(), usedforsecurity=False).hexdigest()[:12]
    return found


class Receivers:
    """The monitor's receivers of statements, job events and AI usage."""

    def __init__(self, monitor: Monitor, slow_statement_seconds: float) -> None:
        self.monitor = monitor
        self.registry = monitor.registry
        self.slow = slow_statement_seconds
        self._disconnects: list[Callable[[], Any]] = []

    def connect(self) -> None:
        """Start receiving (the plugin's startup)."""
        hook.subscribe_once(count_statement)
        self._disconnects = [
            hook.subscribe(self.on_query),
            job_event.connect(self.on_job),
            usage_recorded.connect(self.on_usage),
        ]

    def disconnect(self) -> None:
        for disconnect in self._disconnects:
            disconnect()
        self._disconnects = []

    def on_query(self, query: hook.QueryEvent) -> None:
        registry = self.registry
        registry.inc("db_statements")
        registry.observe("db_statement_duration_seconds", (), query.duration)
        if query.duration >= self.slow:
            shape = shape_of(query.sql)
            registry.inc("db_slow_statements", (shape,))
            registry.inc("db_slow_statement_seconds", (shape,), query.duration)
            self.monitor.sample(shape, query.sql)

    def on_job(self, event: JobEvent) -> None:
        registry = self.registry
        task = (event.task,)
        if event.event == "queued":
            registry.inc("task_jobs_queued", task)
        elif event.event == "started":
            if event.wait is not None:
                registry.observe("task_wait_seconds", task, max(0.0, event.wait))
        else:
            registry.inc("task_runs", (event.task, event.event))
            if event.duration is not None:
                registry.observe("task_run_duration_seconds", task, event.duration)

    def on_usage(self, record: UsageRecord) -> None:
        registry = self.registry
        if record.kind == "tool":
            registry.inc("ai_tool_calls", (record.tool or "", record.status))
            return
        model = record.model or ""
        registry.inc("ai_requests", (model, record.agent or "", record.status))
        if record.cache_hit:
            registry.inc("ai_cache_hits", (model,))
        if record.input_tokens:
            registry.inc("ai_tokens", (model, "input"), record.input_tokens)
        if record.output_tokens:
            registry.inc("ai_tokens", (model, "output"), record.output_tokens)
        if record.cost:
            registry.inc("ai_cost_dollars", (model,), record.cost)


def queue_depth_reader(backend: Any) -> Callable[[], Any] | None:
    """A coroutine function reading the task queue's depth at scrape time: arq's queue is a Redis sorted set (one
    member per queued or deferred job); the inline backend counts the jobs it has not started. None otherwise."""
    if getattr(backend, "name", None) == "arq":

        async def arq_depth() -> dict[str, float]:
            with backend.available():
                redis = await backend.redis()
                return {backend.queue: float(await redis.zcard(backend.queue))}

        return arq_depth
    jobs, running = getattr(backend, "_jobs", None), getattr(backend, "_running", None)
    if isinstance(jobs, dict) and isinstance(running, set):

        async def inline_depth() -> dict[str, float]:
            return {backend.queue: float(len(set(jobs) - running))}

        return inline_depth
    return None
