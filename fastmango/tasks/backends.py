"""The task backend of the process: chosen from the settings (``task_backend``, ``REDIS_URL``), not by code.

The task plugin calls :func:`configure` when the app starts (and :func:`fastmango.setup` does in scripts);
``Task.enqueue`` then finds the backend with :func:`get_backend`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastmango.core.errors import ImproperlyConfigured
from fastmango.core.settings import Settings
from fastmango.tasks.errors import JobNotFound
from fastmango.tasks.history import History
from fastmango.tasks.jobs import JobInfo, JobState
from fastmango.tasks.signals import JobEvent, job_event

if TYPE_CHECKING:
    from fastmango.tasks.definition import Task
    from fastmango.tasks.heartbeat import WorkerInfo

#: The error of an aborted job's record.
ABORTED = "JobAborted: aborted before it started"

_backend: Backend | None = None


class Backend(ABC):
    """Queues jobs and keeps their history.

    Attributes:
        name: ``"inline"`` or ``"arq"``.
        queue: The queue's name (``settings.task_queue_name``).
        settings: The app's settings, given to every job's context.
        history: The job records.
    """

    name: str
    queue: str
    settings: Settings
    history: History

    @abstractmethod
    async def start(self) -> None:
        """Connect (arq) or start the cron schedules (inline); runs in the app's lifespan."""

    @abstractmethod
    async def close(self) -> None:
        """Disconnect (arq), or finish and cancel running jobs (inline)."""

    @abstractmethod
    async def enqueue(self, task: Task[Any], job_id: str, payload: dict[str, Any], run_at: datetime | None) -> None:
        """Queue a job whose arguments are already validated JSON (``Task.enqueue`` is the public way)."""

    async def abort(self, job_id: str) -> JobInfo | None:
        """Take a queued job (deferred, or waiting for a worker) out of the queue before it starts.

        Its record becomes ``failed`` with the error ``JobAborted: ...`` (so that ``job.result()`` ends) and an
        ``aborted`` job event is sent.

        Returns:
            The aborted job's record; None when the job is not queued any more (it started, or it finished).

        Raises:
            JobNotFound: there is no record of the job.
        """
        info = await self.history.get(job_id)
        if info is None:
            raise JobNotFound(f"no record of job {job_id}: never enqueued, or expired")
        if info.state is not JobState.queued or not await self._dequeue(info):
            return None
        at = datetime.now(UTC)
        aborted = info.model_copy(update={"state": JobState.failed, "error": ABORTED, "finished_at": at})
        await self.history.save(aborted)
        if job_event.receivers:
            job_event.send(JobEvent("aborted", info.task, job_id, at, max_attempts=info.max_attempts, error=ABORTED))
        return aborted

    async def _dequeue(self, info: JobInfo) -> bool:
        """Remove a queued job from the queue, unless a worker took it already (then False)."""
        return False

    async def workers(self) -> list[WorkerInfo] | None:
        """The live workers of the queue (by their heartbeats); None when jobs run in the app (inline)."""
        return None

    async def wait(self, job_id: str, timeout: float | None) -> JobInfo | None:
        """Wait until the job is complete or failed and return its record (None when there is no record).

        Raises:
            TimeoutError: the job did not finish within ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        delay = 0.005
        while True:
            info = await self.history.get(job_id)
            if info is None or info.finished:
                return info
            if deadline is not None and loop.time() >= deadline:
                raise TimeoutError(f"job {job_id} did not finish within {timeout:g} s")
            remaining = float("inf") if deadline is None else deadline - loop.time()
            await asyncio.sleep(max(0.0, min(delay, remaining)))
            delay = min(delay * 2, 0.2)


def backend_name(settings: Settings) -> str:
    """The backend ``settings`` select: ``task_backend``, where ``auto`` means arq when ``REDIS_URL`` is set.

    Raises:
        ImproperlyConfigured: arq is asked for without a Redis URL.
    """
    if settings.task_backend == "auto":
        return "arq" if settings.redis_url else "inline"
    if settings.task_backend == "arq" and not settings.redis_url:
        raise ImproperlyConfigured(
            "FASTMANGO_TASK_BACKEND=arq needs REDIS_URL; set it, or use FASTMANGO_TASK_BACKEND=inline"
        )
    return settings.task_backend


def configure(settings: Settings) -> Backend:
    """Create the backend ``settings`` select and make it the process's backend. Opens no connection."""
    global _backend
    backend: Backend
    if backend_name(settings) == "arq":
        from fastmango.tasks.arq_backend import ArqBackend

        backend = ArqBackend(settings)
    else:
        from fastmango.tasks.inline import InlineBackend

        backend = InlineBackend(settings)
    _backend = backend
    return backend


def get_backend() -> Backend:
    """The process's backend.

    Raises:
        ImproperlyConfigured: none is configured yet.
    """
    if _backend is None:
        raise ImproperlyConfigured(
            "no task backend is configured: start the FastMango app (its lifespan), or call fastmango.setup() "
            "in a script, before enqueueing tasks"
        )
    return _backend
