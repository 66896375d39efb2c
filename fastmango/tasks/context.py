"""What a task function receives as its first argument."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastmango.core.settings import Settings


@dataclass(frozen=True)
class TaskContext:
    """The context of one attempt of a job, passed as the first argument of every task function.

    Attributes:
        job_id: The job's id (the id of ``Job`` returned by ``enqueue``).
        task: The task's name.
        attempt: 1 for the first run, 2 for the first retry...
        max_attempts: ``retries + 1``.
        settings: The app's settings.
        enqueued_at: When the job was enqueued (UTC).
    """

    job_id: str
    task: str
    attempt: int
    max_attempts: int
    settings: Settings
    enqueued_at: datetime

    @property
    def is_last_attempt(self) -> bool:
        """Whether a failure of this attempt is final (no retry follows)."""
        return self.attempt >= self.max_attempts
