"""Worker heartbeats: each ``fastmango worker`` process says every few seconds that it is alive, in Redis.

A worker writes ``<queue>:workers:<id>`` (its JSON :class:`WorkerInfo`, expiring after three missed beats) and
scores its id in the sorted set ``<queue>:workers`` with the time of the beat; a clean stop deletes both, a crashed
worker's key expires by itself. :func:`live_workers` lists the workers whose key is still there. Nothing here
imports ``redis``: the arq backend hands in its connection pool.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from pydantic import BaseModel, Field

from fastmango.core.redis import RedisOutage, redis_errors

logger = logging.getLogger("fastmango.tasks")

#: Beats a worker may miss before it counts as gone.
MISSED_BEATS = 3

#: The id of the worker whose job runs in this context (None in the app: inline jobs, enqueues).
current_worker: ContextVar[str | None] = ContextVar("fastmango_worker", default=None)


class WorkerInfo(BaseModel):
    """What a live worker last said about itself."""

    id: str = Field(description="host:pid:random, unique per worker run.")
    host: str
    pid: int
    queue: str
    tasks: list[str] = Field(default_factory=list, description="The tasks it runs.")
    started_at: datetime
    beat_at: datetime = Field(description="When it last said it is alive.")
    jobs_running: int = 0
    jobs_complete: int = 0
    jobs_failed: int = 0
    jobs_retried: int = 0


def new_worker_id() -> str:
    """A worker id: ``host:pid:random`` (two workers of one process differ too)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"


def index_key(queue: str) -> str:
    """The sorted set of worker ids, scored by their last beat."""
    return f"{queue}:workers"


def worker_key(queue: str, worker_id: str) -> str:
    """The key holding a worker's :class:`WorkerInfo`."""
    return f"{queue}:workers:{worker_id}"


class Heartbeat:
    """The heartbeat of one worker.

    Args:
        queue: The queue the worker takes jobs from.
        interval: Seconds between two beats; the key expires after ``MISSED_BEATS`` of them.
        tasks: The names of the tasks it runs.
        counts: Returns the worker's job counts (``jobs_running``, ``jobs_complete``...) at each beat.
    """

    def __init__(
        self, queue: str, interval: float, tasks: list[str], counts: Callable[[], dict[str, int]] | None = None
    ) -> None:
        self.id = new_worker_id()
        self.queue = queue
        self.interval = interval
        self.ttl_ms = max(1000, math.ceil(interval * MISSED_BEATS * 1000))
        self.tasks = sorted(tasks)
        self.counts = counts or dict
        self.started_at = datetime.now(UTC)
        self.outage = RedisOutage("the worker's heartbeat is not written until it is back")

    def info(self) -> WorkerInfo:
        host, pid, _ = self.id.rsplit(":", 2)
        return WorkerInfo(
            id=self.id,
            host=host,
            pid=int(pid),
            queue=self.queue,
            tasks=self.tasks,
            started_at=self.started_at,
            beat_at=datetime.now(UTC),
            **self.counts(),
        )

    async def beat(self, redis: Any) -> None:
        """Write the worker's key (with its expiry) and its score in the index."""
        info = self.info()
        async with redis.pipeline(transaction=True) as pipe:
            pipe.set(worker_key(self.queue, self.id), info.model_dump_json(), px=self.ttl_ms)
            pipe.zadd(index_key(self.queue), {self.id: info.beat_at.timestamp()})
            pipe.pexpire(index_key(self.queue), self.ttl_ms)
            await pipe.execute()

    async def run(self, redis: Any) -> None:
        """Beat every ``interval`` seconds until cancelled; a Redis failure is logged once per outage."""
        while True:
            try:
                await self.beat(redis)
            except redis_errors() as exc:
                self.outage.failed(exc)
            else:
                self.outage.succeeded()
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # a cancel that a Redis command under a timeout swallowed
                raise asyncio.CancelledError
            await asyncio.sleep(self.interval)

    async def remove(self, redis: Any) -> None:
        """Say the worker is gone (its clean stop)."""
        async with redis.pipeline(transaction=True) as pipe:
            pipe.delete(worker_key(self.queue, self.id))
            pipe.zrem(index_key(self.queue), self.id)
            await pipe.execute()


async def live_workers(redis: Any, queue: str) -> list[WorkerInfo]:
    """The workers of ``queue`` whose heartbeat has not expired, the longest-running first."""
    ids = [_text(i) for i in await redis.zrange(index_key(queue), 0, -1)]
    if not ids:
        return []
    found = await redis.mget([worker_key(queue, i) for i in ids])
    gone = [i for i, raw in zip(ids, found, strict=True) if raw is None]
    if gone:  # crashed workers: their key expired, the index still names them
        await redis.zrem(index_key(queue), *gone)
    workers = [WorkerInfo.model_validate_json(raw) for raw in found if raw is not None]
    return sorted(workers, key=lambda w: (w.started_at, w.id))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
