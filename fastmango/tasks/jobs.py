"""Job records (state and history) and the ``Job`` handle that ``Task.enqueue`` returns."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, Field

from fastmango.tasks.errors import JobNotFound, TaskFailed

if TYPE_CHECKING:
    from fastmango.tasks.backends import Backend
    from fastmango.tasks.definition import Task

R = TypeVar("R")


class JobState(StrEnum):
    """Where a job is in its life."""

    queued = "queued"
    """Waiting for a worker (``run_at`` may be in the future: a deferred job)."""
    in_progress = "in_progress"
    """An attempt is running."""
    retried = "retried"
    """An attempt failed and another one is scheduled (``error`` says why)."""
    complete = "complete"
    """The job succeeded; ``result`` holds its JSON result."""
    failed = "failed"
    """The last attempt failed; ``error`` says why."""
    not_found = "not_found"
    """No record: never enqueued (its transaction rolled back) or its history expired."""


#: The states a record can be in (``not_found`` is the absence of a record), in life order.
RECORDED_STATES = (JobState.queued, JobState.in_progress, JobState.retried, JobState.complete, JobState.failed)
FINAL_STATES = frozenset({JobState.complete, JobState.failed})


class JobInfo(BaseModel):
    """The record of a job, as the status API, ``fastmango tasks list`` and ``Job.info()`` show it."""

    id: str
    task: str
    state: JobState
    attempt: int = Field(0, description="The current or last attempt; 0 before the first one starts.")
    max_attempts: int = 1
    args: dict[str, Any] = Field(default_factory=dict, description="The arguments, as JSON.")
    enqueued_at: datetime
    run_at: datetime = Field(description="When the job is (or was) due to run.")
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: Any = Field(None, description="The JSON result of a complete job.")
    error: str | None = Field(None, description="Why the last attempt failed.")

    @classmethod
    def queued(cls, task: Task[Any], job_id: str, payload: dict[str, Any], run_at: datetime | None) -> JobInfo:
        """The record of a job just enqueued (due now when ``run_at`` is None)."""
        now = datetime.now(UTC)
        return cls(
            id=job_id,
            task=task.name,
            state=JobState.queued,
            max_attempts=task.max_attempts,
            args=payload,
            enqueued_at=now,
            run_at=run_at or now,
        )

    @property
    def finished(self) -> bool:
        """Whether the job is complete or failed."""
        return self.state in FINAL_STATES


class Job(Generic[R]):
    """A handle on an enqueued job: ``await job.status()``, ``await job.result(timeout=10)``.

    Attributes:
        id: The job's id.
        task: The task it runs.
    """

    def __init__(self, id: str, task: Task[R], backend: Backend) -> None:
        self.id = id
        self.task = task
        self._backend = backend

    async def info(self) -> JobInfo | None:
        """The job's record, or None when there is none (see :attr:`JobState.not_found`)."""
        return await self._backend.history.get(self.id)

    async def status(self) -> JobState:
        """The job's current state."""
        info = await self.info()
        return JobState.not_found if info is None else info.state

    async def result(self, timeout: float | None = None) -> R:
        """Wait for the job to finish and return its result, validated against the task's return type.

        Args:
            timeout: Seconds to wait at most; None waits as long as it takes.

        Raises:
            TaskFailed: the job failed; ``error`` says why.
            JobNotFound: there is no record of the job (never enqueued, or expired).
            TimeoutError: the job did not finish within ``timeout``.
        """
        info = await self._backend.wait(self.id, timeout)
        if info is None:
            raise JobNotFound(f"no record of job {self.id} of task {self.task.name!r}: never enqueued, or expired")
        if info.state is JobState.failed:
            raise TaskFailed(self.id, self.task.name, info.error)
        return self.task.load_result(info.result)

    def __repr__(self) -> str:
        return f"<Job {self.id} of task {self.task.name!r}>"
