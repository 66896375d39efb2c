"""Errors of the task layer. Each is a :class:`~fastmango.core.errors.FastMangoError`."""

from __future__ import annotations

from typing import Any

from fastmango.core.errors import FastMangoError, ProblemError

#: Seconds a client is told to wait (``Retry-After``) when the task queue is unavailable.
RETRY_AFTER_SECONDS = 5


class TaskError(FastMangoError):
    """Base class of the task layer's errors."""


class TaskArgumentError(TaskError, ValueError):
    """Arguments given to ``Task.enqueue`` do not match the task function's signature and type hints.

    Raised by the caller at enqueue time, so that a bad argument never reaches a worker.

    Attributes:
        task: The task's name.
        errors: pydantic's error list (``loc``, ``msg``, ``type``...), empty for a signature mismatch.
    """

    def __init__(self, task: str, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(f"invalid arguments for task {task!r}: {message}")
        self.task = task
        self.errors = errors or []


class TaskFailed(TaskError):
    """A job ended in failure (its last attempt raised); ``error`` is the recorded error."""

    def __init__(self, job_id: str, task: str, error: str | None) -> None:
        super().__init__(f"job {job_id} of task {task!r} failed: {error or 'unknown error'}")
        self.job_id = job_id
        self.task = task
        self.error = error


class JobNotFound(TaskError):
    """No record of the job: never enqueued (its transaction rolled back), or its history expired."""


class UnknownTask(TaskError):
    """A job names a task that this process has not registered."""


class TaskQueueUnavailable(TaskError, ProblemError):
    """503: the task queue (Redis) refused the connection or did not answer within ``redis_socket_timeout``.

    Nothing was enqueued (or read). Raised by ``Task.enqueue``, job handles and the history on the arq backend;
    a request that raises it is answered ``503`` with ``Retry-After`` and a detail that names no host. The message
    (``str()``: logs, the CLI) names the Redis URL, its password masked, and the cause.
    """

    def __init__(self, message: str, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        from fastmango.core.problems import problem_type

        ProblemError.__init__(
            self,
            503,
            f"The task queue is unavailable right now; retry after {retry_after} seconds.",
            title="Service unavailable",
            type=problem_type("service-unavailable"),
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )
        self.args = (message,)
