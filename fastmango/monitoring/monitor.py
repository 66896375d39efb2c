"""The monitor of an app: its registry, its store, the flush that moves one into the other, and the reads.

    summary = await app.state.monitor.window(3600)          # WindowSummary of the last hour, every process
    rate = await app.state.monitor.value("error_rate", 900) # one number, for alert rules

A flush (every ``metrics_flush_seconds``, in a background task; and before each read) takes the registry's
deltas, files them under the current minute and adds them to the store. When Redis fails the deltas stay in this
process (merged per minute, so memory grows with distinct series, not with requests) and go out with the first
flush that reaches it again; the outage is logged once. A read while Redis is down raises
:class:`~fastmango.monitoring.store.MetricsUnavailable` (503): a summed view would be wrong, and a Prometheus
counter must not go back to one process's share.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastmango.core.redis import RedisOutage, redis_errors
from fastmango.monitoring.metrics import Deltas, Registry, merge
from fastmango.monitoring.store import (
    MINUTE_RETENTION,
    Gauges,
    MemoryStore,
    MetricsStore,
    MetricsUnavailable,
    RedisStore,
    Resolution,
)
from fastmango.monitoring.windows import VALUES, WindowSummary, summarize

if TYPE_CHECKING:
    from fastmango.core.settings import Settings

logger = logging.getLogger("fastmango.monitoring")

#: Windows up to this many seconds are summed from minute buckets; longer ones from hour buckets.
MINUTE_WINDOW_LIMIT = 2 * 3600
QueueDepth = Callable[[], Awaitable[dict[str, float]]]


@dataclass
class Snapshot:
    """What ``/metrics`` exposes: the summed totals, each live process's gauges, and the queue depths."""

    totals: Deltas
    gauges: Gauges
    queue_depth: dict[str, float] = field(default_factory=dict)


def make_store(settings: Settings) -> MetricsStore:
    """Redis when ``REDIS_URL`` is set (every process adds up there), else this process's memory."""
    if settings.redis_url:
        return RedisStore(
            settings.redis_url, prefix=settings.metrics_redis_prefix, socket_timeout=settings.redis_socket_timeout
        )
    return MemoryStore()


def process_gauges() -> dict[str, float]:
    """This process's resident memory (``/proc/self/statm``; peak RSS elsewhere) and CPU seconds."""
    times = os.times()
    try:
        with open("/proc/self/statm", "rb") as statm:
            rss = float(int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, IndexError):
        import resource

        rss = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"process_resident_memory_bytes": rss, "process_cpu_seconds": times.user + times.system}


class Monitor:
    """An app's metrics (``app.state.monitor``).

    Args:
        settings: ``metrics_flush_seconds`` and, for the store, ``REDIS_URL`` and ``metrics_redis_prefix``.
        store: The store to use instead of the one the settings select.
    """

    def __init__(self, settings: Settings, store: MetricsStore | None = None) -> None:
        self.registry = Registry()
        self.store = store if store is not None else make_store(settings)
        self.flush_seconds = settings.metrics_flush_seconds
        self.process = f"{socket.gethostname()}:{os.getpid()}"
        self.outage = RedisOutage("metrics are kept in this process's memory until it is back")
        self.queue_depth: QueueDepth | None = None
        self._errors: tuple[type[BaseException], ...] = redis_errors() if isinstance(self.store, RedisStore) else ()
        self._unflushed: dict[int, Deltas] = {}
        self._samples: dict[str, str] = {}
        self._lock: asyncio.Lock | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def gauge_ttl(self) -> int:
        """Seconds a process's gauges outlive its last flush (a dead worker drops out after them)."""
        return max(10, int(self.flush_seconds * 3) + 1)

    def sample(self, shape: str, sql: str) -> None:
        """Remember the SQL of a slow statement shape (written with the next flush)."""
        self._samples.setdefault(shape, sql[:4000])

    async def flush(self) -> bool:
        """Add this process's deltas to the store; False when Redis is down (they are kept for the next flush)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            deltas = self.registry.take()
            minute = int(time.time() // 60)
            if deltas:
                merge(self._unflushed.setdefault(minute, {}), deltas)
            for old in [m for m in self._unflushed if m < minute - MINUTE_RETENTION // 60]:
                del self._unflushed[old]  # an outage longer than the retention: its oldest minutes are gone anyway
            if self.outage.down():
                return False
            gauges = {**self.registry.gauges, **process_gauges()}
            try:
                await self.store.add(self._unflushed, self._samples, self.process, gauges, self.gauge_ttl)
            except self._errors as exc:
                self.outage.failed(exc)
                return False
            self._unflushed, self._samples = {}, {}
            self.outage.succeeded()
            return True

    async def _read(self, read: Callable[[], Awaitable[Any]]) -> Any:
        if not await self.flush():
            raise MetricsUnavailable()
        try:
            return await read()
        except self._errors as exc:
            self.outage.failed(exc)
            raise MetricsUnavailable() from exc

    async def snapshot(self) -> Snapshot:
        """The summed totals and live gauges (after flushing this process's deltas).

        Raises:
            MetricsUnavailable: Redis is down.
        """
        totals, gauges = await self._read(lambda: asyncio.gather(self.store.totals(), self.store.gauges()))
        return Snapshot(totals, gauges, await self._queue_depth())

    async def _queue_depth(self) -> dict[str, float]:
        if self.queue_depth is None:
            return {}
        try:
            return await self.queue_depth()
        except Exception as exc:  # the queue's own outage is the task layer's to report
            logger.debug("queue depth unavailable: %s", exc)
            return {}

    async def window(self, seconds: int) -> WindowSummary:
        """Every process's metrics of the last ``seconds``, from minute buckets up to two hours, hour buckets
        beyond (a 24 h window then spans the last 24 whole hours and the current one).

        Raises:
            MetricsUnavailable: Redis is down.
        """
        now = time.time()
        resolution: Resolution = "minute" if seconds <= MINUTE_WINDOW_LIMIT else "hour"
        step = 60 if resolution == "minute" else 3600
        end = int(now // step)
        start = end - max(1, -(-seconds // step)) + 1
        buckets, gauges = await self._read(
            lambda: asyncio.gather(self.store.buckets(start, end, resolution), self.store.gauges())
        )
        summary, shapes = summarize(
            buckets,
            seconds=seconds,
            resolution=resolution,
            start=datetime.fromtimestamp(start * step, UTC),
            end=datetime.fromtimestamp(now, UTC),
        )
        if shapes:
            sql = await self._read(lambda: self.store.samples(shapes))
            for statement in summary.slow_statements:
                statement.sql = sql.get(statement.shape)
        summary.processes = len(gauges)
        summary.queue_depth = await self._queue_depth()
        return summary

    async def value(self, name: str, seconds: int) -> float | None:
        """One figure of the window of the last ``seconds`` (see :data:`fastmango.monitoring.windows.VALUES`:
        ``error_rate``, ``request_rate``, ``latency_p95_ms``, ``task_failures``, ``ai_cost``, ``processes``...);
        None when it has no observation (a latency without requests).

        Raises:
            KeyError: an unknown name (the message lists the known ones).
            MetricsUnavailable: Redis is down.
        """
        if name not in VALUES:
            raise KeyError(f"unknown metric {name!r}; known: {', '.join(sorted(VALUES))}")
        value: float | None = VALUES[name](await self.window(seconds))
        return value

    def start(self) -> None:
        """Flush every ``flush_seconds`` in a background task until :meth:`stop`."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="fastmango-metrics-flush")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            try:
                await self.flush()
            except Exception:
                logger.exception("flushing the metrics failed")

    async def stop(self) -> None:
        """Stop the background flush, flush what is left (a few seconds at most) and close the store."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), timeout=5)
        self._lock = None  # the next start may run on another event loop (tests, a worker's restart)
        with contextlib.suppress(Exception):
            await self.store.close()
