"""``@task``: declare a background task; the registry of every task the process has imported."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload
from uuid import uuid4

from fastmango.core import recorder
from fastmango.core.errors import ImproperlyConfigured
from fastmango.tasks.arguments import TaskArguments
from fastmango.tasks.context import TaskContext
from fastmango.tasks.cron import CronSchedule
from fastmango.tasks.errors import TaskArgumentError
from fastmango.tasks.jobs import Job
from fastmango.tasks.signals import JobEvent, job_event

if TYPE_CHECKING:
    from fastmango.tasks.backends import Backend

R = TypeVar("R")
TaskFunction = Callable[..., Awaitable[R]]

DEFAULT_TIMEOUT = 300.0
DEFAULT_BACKOFF = 2.0
MAX_BACKOFF = 3600.0

_registry: dict[str, Task[Any]] = {}


class Task(Generic[R]):
    """A registered task function. Create one with :func:`task`; call ``await t.enqueue(...)`` to run it.

    Calling the task itself (``await t(ctx, ...)``) runs the function directly, as in a unit test.

    Attributes:
        name: The name jobs use to find the task (the function's name unless given).
        retries: How many times a failed job runs again.
        timeout: Seconds an attempt may take (None: no limit).
        backoff: The first retry waits ``backoff`` seconds, then twice as long each time (at most an hour).
        schedule: The cron schedule, for a scheduled task.
    """

    def __init__(
        self,
        func: TaskFunction[R],
        *,
        name: str | None = None,
        retries: int = 0,
        timeout: float | timedelta | None = DEFAULT_TIMEOUT,
        backoff: float = DEFAULT_BACKOFF,
        cron: str | None = None,
    ) -> None:
        self.name = name or func.__name__
        if not inspect.iscoroutinefunction(func):
            raise ImproperlyConfigured(f"task {self.name!r} must be an async function (async def)")
        if retries < 0:
            raise ImproperlyConfigured(f"task {self.name!r}: retries must be 0 or more, not {retries}")
        if backoff < 0:
            raise ImproperlyConfigured(f"task {self.name!r}: backoff must be 0 or more seconds, not {backoff}")
        self.func = func
        self.retries = retries
        self.timeout = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        if self.timeout is not None and self.timeout <= 0:
            raise ImproperlyConfigured(f"task {self.name!r}: timeout must be positive, or None for no limit")
        self.backoff = backoff
        self.arguments = TaskArguments(self.name, func)
        self.schedule = CronSchedule.parse(cron) if cron else None
        if self.schedule is not None and self.arguments.required:
            raise ImproperlyConfigured(
                f"task {self.name!r} runs on a schedule, so it cannot have required arguments "
                f"({', '.join(self.arguments.required)}); give them defaults"
            )
        functools.update_wrapper(self, func)

    @property
    def max_attempts(self) -> int:
        """``retries + 1``."""
        return self.retries + 1

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait after attempt number ``attempt`` (1-based) failed."""
        return float(min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF))

    def __call__(self, ctx: TaskContext, *args: Any, **kwargs: Any) -> Awaitable[R]:
        return self.func(ctx, *args, **kwargs)

    async def enqueue(
        self,
        *args: Any,
        _defer_by: float | timedelta | None = None,
        _defer_until: datetime | None = None,
        **kwargs: Any,
    ) -> Job[R]:
        """Validate the arguments and queue a job; inside ``transaction()`` the job is queued after the commit.

        Args:
            *args: The task's arguments (after the context), validated against its type hints.
            _defer_by: Run no sooner than this long from now (seconds or a ``timedelta``).
            _defer_until: Run no sooner than this time (a naive datetime is taken as UTC).
            **kwargs: The task's arguments by name.

        Returns:
            A :class:`~fastmango.tasks.Job` handle. Its status is ``not_found`` until the enclosing
            transaction commits, and stays so when it rolls back.

        Raises:
            TaskArgumentError: an argument is missing, unknown, or of the wrong type.
            ImproperlyConfigured: no task backend is configured (no app created, no ``fastmango.setup()``).
        """
        from fastmango.db.session import run_on_commit
        from fastmango.tasks.backends import get_backend

        payload = self.arguments.dump(args, kwargs)
        run_at = _run_at(self.name, _defer_by, _defer_until)
        backend = get_backend()
        job: Job[R] = Job(uuid4().hex, self, backend)
        await run_on_commit(functools.partial(self._queue, backend, job.id, payload, run_at))
        recorder.note("tasks", {"task": self.name, "job_id": job.id, "run_at": run_at.isoformat() if run_at else None})
        return job

    async def _queue(self, backend: Backend, job_id: str, payload: dict[str, Any], run_at: datetime | None) -> None:
        await backend.enqueue(self, job_id, payload, run_at)
        if job_event.receivers:
            at = datetime.now(UTC)
            job_event.send(JobEvent("queued", self.name, job_id, at, max_attempts=self.max_attempts, run_at=run_at))

    def load_result(self, value: Any) -> R:
        """A stored JSON result, validated into the task's return type."""
        result: R = self.arguments.load_result(value)
        return result

    def job(self, job_id: str, backend: Backend | None = None) -> Job[R]:
        """A handle on a job of this task from its id (to check on it from elsewhere)."""
        from fastmango.tasks.backends import get_backend

        return Job(job_id, self, backend or get_backend())

    def __repr__(self) -> str:
        return f"<Task {self.name!r}>"


def _run_at(name: str, defer_by: float | timedelta | None, defer_until: datetime | None) -> datetime | None:
    if defer_by is not None and defer_until is not None:
        raise TaskArgumentError(name, "give _defer_by or _defer_until, not both")
    if defer_by is not None:
        seconds = defer_by.total_seconds() if isinstance(defer_by, timedelta) else float(defer_by)
        return datetime.now(UTC) + timedelta(seconds=seconds) if seconds > 0 else None
    if defer_until is not None:
        return defer_until.replace(tzinfo=UTC) if defer_until.tzinfo is None else defer_until.astimezone(UTC)
    return None


@overload
def task(func: TaskFunction[R], /) -> Task[R]: ...


@overload
def task(
    *,
    name: str | None = None,
    retries: int = 0,
    timeout: float | timedelta | None = DEFAULT_TIMEOUT,
    backoff: float = DEFAULT_BACKOFF,
    cron: str | None = None,
) -> Callable[[TaskFunction[R]], Task[R]]: ...


def task(
    func: TaskFunction[R] | None = None,
    /,
    *,
    name: str | None = None,
    retries: int = 0,
    timeout: float | timedelta | None = DEFAULT_TIMEOUT,
    backoff: float = DEFAULT_BACKOFF,
    cron: str | None = None,
) -> Task[R] | Callable[[TaskFunction[R]], Task[R]]:
    """Declare an async function as a background task (``@fastmango.task`` or ``@fastmango.task(...)``).

    The function's first parameter receives the :class:`~fastmango.TaskContext`; the others are the job's
    arguments, validated against their type hints when the job is enqueued and carried as JSON.

    Args:
        name: The name jobs refer to the task by; the function's name by default. Unique per project.
        retries: How many times a failing job runs again (``retries=3``: four attempts at most).
        timeout: Seconds (or a ``timedelta``) an attempt may run before it fails; None for no limit.
        backoff: Seconds before the first retry; each further retry waits twice as long (at most an hour).
        cron: A cron expression (``"*/5 * * * *"``, UTC) to run the task on a schedule.

    Raises:
        ImproperlyConfigured: the function is not async, has no context parameter, has arguments that
            cannot travel as JSON, or its name is taken by another task.
    """

    def decorate(function: TaskFunction[R]) -> Task[R]:
        return register(Task(function, name=name, retries=retries, timeout=timeout, backoff=backoff, cron=cron))

    return decorate if func is None else decorate(func)


def register(new: Task[R]) -> Task[R]:
    """Add ``new`` to the registry; the same function imported again replaces its earlier registration.

    Raises:
        ImproperlyConfigured: another function already uses the name.
    """
    old = _registry.get(new.name)
    if old is not None and _origin(old) != _origin(new):
        raise ImproperlyConfigured(
            f"two tasks are named {new.name!r} ({_origin(old)} and {_origin(new)}); pass name= to one of them"
        )
    _registry[new.name] = new
    return new


def unregister(name: str) -> None:
    """Remove a task from the registry (tests use it to clean up)."""
    _registry.pop(name, None)


def get_task(name: str) -> Task[Any] | None:
    """The registered task named ``name``, or None."""
    return _registry.get(name)


def registered_tasks() -> list[Task[Any]]:
    """Every registered task, by name."""
    return [_registry[name] for name in sorted(_registry)]


def _origin(t: Task[Any]) -> str:
    return f"{t.func.__module__}.{t.func.__qualname__}"
