"""The job-events record: one ``tasks_job_event`` row per change of a job's state, kept ``task_events_retention_days``.

A receiver of :data:`fastmango.tasks.signals.job_event` buffers each event in memory, in the process where it
happened (the app's or a worker's); a background task writes the buffer with one ``bulk_create`` once it holds
``FLUSH_RECORDS`` events or ``task_events_flush_seconds`` after the first unwritten one, as the AI usage meter does.
The tasks plugin flushes on shutdown (a worker runs the app's lifespan, so it does too).

Retention: a flush deletes the rows older than ``task_events_retention_days``, at most once every
``PRUNE_SECONDS`` per process. No cron task to schedule, and the processes that write events are the ones that
prune: a DELETE on the indexed ``at`` column, a few times a day.

A database outage never breaks a job: the failed batch goes back into the buffer (at most ``MAX_BUFFER`` events,
the oldest dropped) and is written with the next flush; the failure is logged once until a write succeeds again.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from fastmango.db import Field, Model, UTCDateTime
from fastmango.tasks.heartbeat import current_worker
from fastmango.tasks.signals import JobEvent, job_event

logger = logging.getLogger("fastmango.tasks")

MAX_BUFFER = 10_000
FLUSH_RECORDS = 200
PRUNE_SECONDS = 3600.0
ERROR_LENGTH = 2000


def utcnow() -> datetime:
    return datetime.now(UTC)


class JobEventRecord(Model, table=True):
    """One change of a job's state (see :class:`fastmango.tasks.signals.JobEvent`).

    ``worker`` is the id of the worker process that ran the attempt (None in the app: enqueues, inline jobs).
    """

    __tablename__: ClassVar[str] = "tasks_job_event"

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=200, index=True)
    task: str = Field(max_length=200, index=True)
    event: str = Field(max_length=16)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    attempt: int = 0
    max_attempts: int = 1
    wait: float | None = None
    duration: float | None = None
    error: str | None = Field(default=None, max_length=ERROR_LENGTH)
    run_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    worker: str | None = Field(default=None, max_length=200)

    @classmethod
    def from_event(cls, event: JobEvent, worker: str | None = None) -> JobEventRecord:
        """The row of ``event``; a long error is cut to ``ERROR_LENGTH`` characters."""
        error = event.error
        if error is not None and len(error) > ERROR_LENGTH:
            error = error[: ERROR_LENGTH - 1] + "…"
        return cls(
            job_id=event.job_id,
            task=event.task,
            event=event.event,
            at=event.at,
            attempt=event.attempt,
            max_attempts=event.max_attempts,
            wait=event.wait,
            duration=event.duration,
            error=error,
            run_at=event.run_at,
            worker=worker,
        )


class EventLog:
    """The process-wide buffer of job events, its flush policy and the retention."""

    def __init__(self, flush_seconds: float = 1.0, retention_days: int = 14, enabled: bool = True) -> None:
        self.flush_seconds = flush_seconds
        self.flush_records = FLUSH_RECORDS
        self.retention = timedelta(days=retention_days)
        self.enabled = enabled
        self.buffer: list[JobEventRecord] = []
        self._pruned_at: float | None = None  # monotonic time of the last prune
        self._failing = False
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def configure(self, settings: Any) -> None:
        """Take the policy from ``settings`` and listen to ``job_event`` (or stop, with ``task_events`` off)."""
        self.flush_seconds = settings.task_events_flush_seconds
        self.retention = timedelta(days=settings.task_events_retention_days)
        self.enabled = settings.task_events
        if self.enabled:
            job_event.connect(self.receive)
        else:
            job_event.disconnect(self.receive)

    def receive(self, event: JobEvent) -> None:
        """Buffer ``event`` (the ``job_event`` receiver); never waits for the database."""
        if not self.enabled:
            return
        self.buffer.append(JobEventRecord.from_event(event, current_worker.get()))
        if len(self.buffer) > MAX_BUFFER:
            del self.buffer[: len(self.buffer) - MAX_BUFFER]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if loop is not self._loop:  # a new event loop (tests, CLI): timers and the lock of the old one are dead
            self._loop, self._timer, self._lock, self._tasks = loop, None, None, set()
        if len(self.buffer) >= self.flush_records:
            self._spawn()
        elif self._timer is None:
            self._timer = loop.call_later(self.flush_seconds, self._spawn)

    def _spawn(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        # A context of its own: the write is not part of the request's (or job's) transaction or debug record.
        task = asyncio.get_running_loop().create_task(self._flush(), context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self.buffer:
                return
            batch, self.buffer = self.buffer, []
            try:
                await JobEventRecord.objects.bulk_create(batch)
                if self._pruned_at is None or time.monotonic() - self._pruned_at >= PRUNE_SECONDS:
                    await self.prune()
            except Exception as exc:
                if not self._failing:
                    logger.warning(
                        "could not write %d job events (%s: %s); keeping them for the next write (at most %d)",
                        len(batch),
                        type(exc).__name__,
                        exc,
                        MAX_BUFFER,
                    )
                self._failing = True
                self.buffer[:0] = batch
                del self.buffer[: max(0, len(self.buffer) - MAX_BUFFER)]
            else:
                if self._failing:
                    logger.info("job events are written again")
                self._failing = False

    async def prune(self, now: datetime | None = None) -> int:
        """Delete the events older than the retention; the number deleted."""
        self._pruned_at = time.monotonic()
        cutoff = (now or utcnow()) - self.retention
        return await JobEventRecord.objects.filter(at__lt=cutoff).delete()

    async def flush(self) -> None:
        """Write every buffered event now (and wait for flushes in progress)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._loop is asyncio.get_running_loop():
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        else:
            self._loop, self._lock, self._tasks = asyncio.get_running_loop(), None, set()
        await self._flush()

    def discard(self) -> None:
        """Forget buffered events (tests)."""
        self.buffer.clear()


events = EventLog()
"""The process-wide job-events record; the tasks plugin configures it from the settings."""


async def flush_events() -> None:
    """Write the buffered job events to ``tasks_job_event`` now."""
    await events.flush()
