"""The job-events record: one ``tasks_job_event`` row per change of a job's state, kept ``task_events_retention_days``.

A receiver of :data:`fastmango.tasks.signals.job_event` buffers each event in memory, in the process where it
happened (the app's or a worker's); :class:`fastmango.db.buffered.BufferedWriter` writes the buffer with one
``bulk_create`` once it holds ``FLUSH_RECORDS`` events or ``task_events_flush_seconds`` after the first unwritten
one, as it does the AI usage ledger.
The tasks plugin flushes on shutdown (a worker runs the app's lifespan, so it does too).

Retention: a flush deletes the rows older than ``task_events_retention_days``, at most once every
``PRUNE_SECONDS`` per process. No cron task to schedule, and the processes that write events are the ones that
prune: a DELETE on the indexed ``at`` column, a few times a day.

A database outage never breaks a job: the failed batch goes back into the buffer (at most ``MAX_BUFFER`` events,
the oldest dropped) and is written with the next flush; the failure is logged once until a write succeeds again.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from fastmango.db import Field, Model, UTCDateTime
from fastmango.db.buffered import BufferedWriter
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


class EventLog(BufferedWriter[JobEventRecord]):
    """The process-wide buffer of job events, its flush policy and the retention."""

    def __init__(self, flush_seconds: float = 1.0, retention_days: int = 14, enabled: bool = True) -> None:
        super().__init__(
            JobEventRecord,
            "job events",
            logger,
            flush_records=FLUSH_RECORDS,
            flush_seconds=flush_seconds,
            max_buffer=MAX_BUFFER,
            enabled=enabled,
        )
        self.retention = timedelta(days=retention_days)
        self._pruned_at: float | None = None  # monotonic time of the last prune

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
        self.add(JobEventRecord.from_event(event, current_worker.get()))

    async def after_write(self) -> None:
        if self._pruned_at is None or time.monotonic() - self._pruned_at >= PRUNE_SECONDS:
            await self.prune()

    async def prune(self, now: datetime | None = None) -> int:
        """Delete the events older than the retention; the number deleted."""
        self._pruned_at = time.monotonic()
        cutoff = (now or utcnow()) - self.retention
        return await JobEventRecord.objects.filter(at__lt=cutoff).delete()


events = EventLog()
"""The process-wide job-events record; the tasks plugin configures it from the settings."""


async def flush_events() -> None:
    """Write the buffered job events to ``tasks_job_event`` now."""
    await events.flush()
