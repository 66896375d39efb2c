"""The inline backend: jobs run in the background of the current event loop, history in memory.

For development and tests (the default without ``REDIS_URL``). Jobs take the same path as on a worker:
arguments go through JSON, attempts run under the timeout, failures retry with backoff, cron schedules
fire while the app runs. Each job runs in a fresh context, like on a worker: it does not see the
caller's transaction. Jobs live as long as the event loop: the app's shutdown waits for running jobs (up
to ``shutdown_grace`` seconds) and cancels the rest; a script's ``asyncio.run`` cancels what is left when
it returns, so await ``job.result()`` there.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from datetime import UTC, datetime
from typing import Any

from fastmango.core.settings import Settings
from fastmango.tasks.backends import Backend
from fastmango.tasks.context import TaskContext
from fastmango.tasks.definition import Task, registered_tasks
from fastmango.tasks.history import DEFAULT_HISTORY_SIZE, MemoryHistory
from fastmango.tasks.jobs import JobInfo, JobState
from fastmango.tasks.runner import run_attempt

logger = logging.getLogger("fastmango.tasks")


class InlineBackend(Backend):
    """Runs jobs as asyncio tasks of the process that enqueues them."""

    name = "inline"

    def __init__(
        self, settings: Settings, *, history_size: int = DEFAULT_HISTORY_SIZE, shutdown_grace: float = 10.0
    ) -> None:
        self.settings = settings
        self.queue = settings.task_queue_name
        self.history = MemoryHistory(history_size)
        self.shutdown_grace = shutdown_grace
        self._jobs: dict[str, asyncio.Task[None]] = {}
        self._running: set[str] = set()
        self._finished: dict[str, asyncio.Event] = {}
        self._aborted: set[str] = set()
        self._schedules: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for scheduled in registered_tasks():
            if scheduled.schedule is not None:
                self._schedules.append(
                    asyncio.create_task(self._fire(scheduled), name=f"fastmango-cron:{scheduled.name}")
                )

    async def close(self) -> None:
        for schedule in self._schedules:
            schedule.cancel()
        await asyncio.gather(*self._schedules, return_exceptions=True)
        self._schedules.clear()
        for job_id, job in list(self._jobs.items()):
            if job_id not in self._running:  # deferred or waiting to retry: nothing to finish
                job.cancel()
        running = [job for job_id, job in self._jobs.items() if job_id in self._running]
        if running:
            logger.info("waiting up to %g s for %d running job(s)", self.shutdown_grace, len(running))
            await asyncio.wait(running, timeout=self.shutdown_grace)
        left = list(self._jobs.values())
        for job in left:
            job.cancel()
        await asyncio.gather(*left, return_exceptions=True)

    async def enqueue(self, task: Task[Any], job_id: str, payload: dict[str, Any], run_at: datetime | None) -> None:
        info = JobInfo.queued(task, job_id, payload, run_at)
        await self.history.save(info)
        self._finished[job_id] = asyncio.Event()
        job = asyncio.create_task(
            self._run(task, info), name=f"fastmango-task:{task.name}:{job_id}", context=contextvars.Context()
        )
        self._jobs[job_id] = job
        job.add_done_callback(lambda _: self._jobs.pop(job_id, None))

    async def _dequeue(self, info: JobInfo) -> bool:
        job = self._jobs.get(info.id)
        if job is None or info.id in self._running or job.done():
            return False
        self._aborted.add(info.id)  # its end is the abort's record, not "the app shut down"
        job.cancel()
        return True

    async def wait(self, job_id: str, timeout: float | None) -> JobInfo | None:
        info = await self.history.get(job_id)
        event = self._finished.get(job_id)
        if info is None or info.finished or event is None:
            return info if info is None or info.finished else await super().wait(job_id, timeout)
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            raise TimeoutError(f"job {job_id} did not finish within {timeout:g} s") from None
        return await self.history.get(job_id)

    async def _run(self, task: Task[Any], info: JobInfo) -> None:
        try:
            delay = (info.run_at - datetime.now(UTC)).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)
            for attempt in range(1, task.max_attempts + 1):
                info = _update(info, state=JobState.in_progress, attempt=attempt, started_at=_now(), error=None)
                await self.history.save(info)
                ctx = TaskContext(info.id, task.name, attempt, task.max_attempts, self.settings, info.enqueued_at)
                self._running.add(info.id)
                try:
                    outcome = await run_attempt(task, ctx, info.args)
                finally:
                    self._running.discard(info.id)
                if outcome.ok:
                    info = _update(info, state=JobState.complete, result=outcome.result, finished_at=_now())
                    await self.history.save(info)
                    return
                if outcome.retry_in is None:
                    break
                info = _update(info, state=JobState.retried, error=outcome.error, finished_at=_now())
                await self.history.save(info)
                await asyncio.sleep(outcome.retry_in)
            info = _update(info, state=JobState.failed, error=outcome.error, finished_at=_now())
            await self.history.save(info)
        except asyncio.CancelledError:
            if info.id in self._aborted:
                self._aborted.discard(info.id)
                raise
            info = _update(info, state=JobState.failed, error="CancelledError: the app shut down", finished_at=_now())
            await self.history.save(info)
            raise
        finally:
            event = self._finished.pop(info.id, None)
            if event is not None:
                event.set()

    async def _fire(self, task: Task[Any]) -> None:
        assert task.schedule is not None
        while True:
            now = datetime.now(UTC)
            due = task.schedule.next_after(now)
            await asyncio.sleep((due - now).total_seconds())
            try:
                await self.enqueue(task, f"{task.name}:{int(due.timestamp() * 1000)}", {}, None)
            except Exception:  # a schedule keeps firing whatever one run does
                logger.exception("could not start the scheduled task %s", task.name)


def _now() -> datetime:
    return datetime.now(UTC)


def _update(info: JobInfo, **changes: Any) -> JobInfo:
    return info.model_copy(update=changes)
