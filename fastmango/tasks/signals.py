"""What the tasks layer announces (:class:`fastmango.core.signals.Signal`): each change of a job's state, for the
job-events record, the metrics and the task monitor above it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fastmango.core.signals import Signal

JobEventKind = Literal["queued", "started", "succeeded", "retried", "failed", "aborted"]


@dataclass(frozen=True)
class JobEvent:
    """One change of a job's state.

    Attributes:
        event: ``queued`` (the enqueue committed), ``started`` (an attempt began), ``succeeded``, ``retried``
            (the attempt failed and another follows), ``failed`` (the last attempt failed) or ``aborted`` (taken out
            of the queue before it started).
        task: The task's name.
        job_id: The job's id.
        at: When it happened (UTC).
        attempt: The attempt number (0 for ``queued``).
        max_attempts: Attempts the job may make.
        wait: Seconds from the enqueue to the start (``started`` only).
        duration: Seconds the attempt ran (``succeeded``, ``retried``, ``failed``).
        error: ``"ExceptionName: message"`` of a failed attempt.
        run_at: When a queued job is due (None: now).
    """

    event: JobEventKind
    task: str
    job_id: str
    at: datetime
    attempt: int = 0
    max_attempts: int = 1
    wait: float | None = None
    duration: float | None = None
    error: str | None = None
    run_at: datetime | None = None


#: Sent on every change of a job's state, in the process where it happened (the app's or a worker's).
job_event: Signal[JobEvent] = Signal("job_event")
