"""The inline backend: jobs in the app's event loop, finished or cancelled when the app stops."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from fastmango import FastMango, TaskContext, task
from fastmango.tasks import JobState
from fastmango.tasks.history import MemoryHistory
from fastmango.tasks.inline import InlineBackend
from fastmango.tasks.jobs import JobInfo
from fastmango.testing import app_client
from tests.tasks.conftest import make_settings


@task(name="i_nap")
async def nap(ctx: TaskContext, seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "rested"


def make_app(tmp_path: Path) -> FastMango:
    return FastMango(settings=make_settings(tmp_path), configure_logging=False)


async def test_shutdown_waits_for_running_jobs(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app_client(app):
        job = await nap.enqueue(seconds=0.2)
        await asyncio.sleep(0.02)
        assert await job.status() is JobState.in_progress
    assert await job.status() is JobState.complete


async def test_shutdown_cancels_jobs_past_the_grace_period_and_deferred_ones(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app_client(app):
        backend = app.state.tasks
        assert isinstance(backend, InlineBackend)
        backend.shutdown_grace = 0.1
        running = await nap.enqueue(seconds=30)
        deferred = await nap.enqueue(seconds=0, _defer_by=30)
        await asyncio.sleep(0.02)
    for job in (running, deferred):
        info = await job.info()
        assert info is not None and info.state is JobState.failed
        assert info.error == "CancelledError: the app shut down"


def record(job_id: str, task: str, state: JobState, day: int) -> JobInfo:
    moment = datetime(2024, 1, day, tzinfo=UTC)
    return JobInfo(id=job_id, task=task, state=state, enqueued_at=moment, run_at=moment)


async def test_memory_history_keeps_the_newest_jobs_of_each_task() -> None:
    history = MemoryHistory(size=2)
    for n in range(3):
        await history.save(record(str(n), "t", JobState.queued, n + 1))
    await history.save(record("x", "other", JobState.failed, 5))
    assert [r.id for r in await history.recent("t")] == ["2", "1"]
    assert await history.get("0") is None
    assert [r.id for r in await history.recent(state=JobState.failed)] == ["x"]
    assert await history.stats({"idle"}) == {
        "idle": {"queued": 0, "in_progress": 0, "retried": 0, "complete": 0, "failed": 0},
        "other": {"queued": 0, "in_progress": 0, "retried": 0, "complete": 0, "failed": 1},
        "t": {"queued": 2, "in_progress": 0, "retried": 0, "complete": 0, "failed": 0},
    }
