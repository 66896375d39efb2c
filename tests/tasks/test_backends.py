"""The task suite: every behaviour holds on the inline backend and on arq (a real Redis, in-process workers)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel

from fastmango import TaskContext, task
from fastmango.db import transaction
from fastmango.tasks import JobInfo, JobNotFound, JobState, TaskArgumentError, TaskFailed
from fastmango.tasks.jobs import Job
from tests.db.models import Author
from tests.tasks.conftest import Harness


class Point(BaseModel):
    x: int
    y: int


@task(name="t_add")
async def add(ctx: TaskContext, a: int, b: int = 2) -> int:
    return a + b


@task(name="t_typed")
async def typed(ctx: TaskContext, when: datetime, ids: list[UUID], point: Point) -> dict[str, Any]:
    return {
        "when_type": type(when).__name__,
        "ids_type": type(ids[0]).__name__,
        "point": point.model_copy(update={"x": point.x + 1}),
    }


@task(name="t_point")
async def moved(ctx: TaskContext, point: Point) -> Point:
    return Point(x=point.x + 1, y=point.y)


@task(name="t_flaky", retries=3, backoff=0.01)
async def flaky(ctx: TaskContext, succeed_on: int) -> int:
    if ctx.attempt < succeed_on:
        raise ValueError(f"attempt {ctx.attempt} failed")
    return ctx.attempt


@task(name="t_retry_visible", retries=1, backoff=0.4)
async def fails_once(ctx: TaskContext) -> int:
    if ctx.attempt == 1:
        raise ConnectionError("the mail server hung up")
    return ctx.attempt


@task(name="t_broken", retries=1, backoff=0.01)
async def broken(ctx: TaskContext) -> None:
    raise RuntimeError("always broken")


@task(name="t_slow", timeout=0.2)
async def too_slow(ctx: TaskContext) -> None:
    await asyncio.sleep(5)


@task(name="t_context")
async def context(ctx: TaskContext) -> dict[str, Any]:
    return {
        "job_id": ctx.job_id,
        "task": ctx.task,
        "attempt": ctx.attempt,
        "max_attempts": ctx.max_attempts,
        "queue": ctx.settings.task_queue_name,
        "enqueued_at": ctx.enqueued_at.isoformat(),
    }


@task(name="t_author_name")
async def author_name(ctx: TaskContext, author_id: int) -> str:
    author = await Author.objects.get(id=author_id)
    return author.name


@task(name="t_chain")
async def chain(ctx: TaskContext, a: int) -> str:
    job = await add.enqueue(a=a, b=a)
    return job.id


gate: dict[str, asyncio.Event] = {}


@task(name="t_gated")
async def gated(ctx: TaskContext, key: str) -> str:
    await gate[key].wait()
    return key


async def test_enqueue_runs_the_task_and_returns_its_result(harness: Harness) -> None:
    async with harness.run():
        job = await add.enqueue(1, b=5)
        assert await job.result(timeout=5) == 6
        info = await job.info()
    assert info is not None
    assert (info.state, info.attempt, info.max_attempts, info.args) == (JobState.complete, 1, 1, {"a": 1, "b": 5})
    assert info.result == 6 and info.error is None
    assert info.enqueued_at <= info.started_at <= info.finished_at  # type: ignore[operator]


async def test_arguments_travel_as_json_and_arrive_with_their_types(harness: Harness) -> None:
    when = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    async with harness.run():
        job = await typed.enqueue(when=when, ids=[uuid4()], point=Point(x=1, y=2))
        result = await job.result(timeout=5)
        moved_job = await moved.enqueue(point={"x": "4", "y": 0})
        assert await moved_job.result(timeout=5) == Point(x=5, y=0)
        info = await job.info()
    assert result == {"when_type": "datetime", "ids_type": "UUID", "point": {"x": 2, "y": 2}}
    assert info is not None and info.args["when"] == "2024-05-01T12:30:00Z"


async def test_a_bad_argument_fails_the_caller_and_queues_nothing(harness: Harness) -> None:
    async with harness.run():
        with pytest.raises(TaskArgumentError, match=r"'t_add'.*a: Input should be a valid integer") as caught:
            await add.enqueue(a="not a number")
        assert caught.value.errors[0]["loc"] == ("a",)
        with pytest.raises(TaskArgumentError, match="a: missing required argument"):
            await add.enqueue(b=1)
        with pytest.raises(TaskArgumentError, match="c: unexpected argument"):
            await add.enqueue(a=1, c=3)
        assert await harness.backend.history.recent("t_add") == []


async def test_a_failing_job_is_retried_until_it_succeeds(harness: Harness) -> None:
    async with harness.run():
        job = await flaky.enqueue(succeed_on=3)
        assert await job.result(timeout=5) == 3
        info = await job.info()
    assert info is not None and (info.state, info.attempt, info.max_attempts) == (JobState.complete, 3, 4)


async def test_between_attempts_the_job_shows_as_retried_with_its_error(harness: Harness) -> None:
    async with harness.run():
        job = await fails_once.enqueue()
        states = set()
        deadline = time.monotonic() + 5
        # One read gives both the state and the error: the retry may start between two reads.
        while (info := await job.info()) is not None and info.state is not JobState.complete:
            states.add(info.state)
            if info.state is JobState.retried:
                assert info.error == "ConnectionError: the mail server hung up"
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        assert await job.result(timeout=5) == 2
    assert JobState.retried in states


async def test_the_final_failure_is_recorded_with_its_error(harness: Harness) -> None:
    async with harness.run():
        job = await broken.enqueue()
        with pytest.raises(TaskFailed, match="always broken") as caught:
            await job.result(timeout=5)
        info = await job.info()
    assert caught.value.error == "RuntimeError: always broken"
    assert info is not None and (info.state, info.attempt) == (JobState.failed, 2)
    assert info.error == "RuntimeError: always broken"


async def test_an_attempt_past_the_timeout_fails(harness: Harness) -> None:
    async with harness.run():
        job = await too_slow.enqueue()
        with pytest.raises(TaskFailed, match=r"TimeoutError: timed out after 0.2 s"):
            await job.result(timeout=5)


async def test_a_deferred_job_runs_no_sooner_than_asked(harness: Harness) -> None:
    async with harness.run():
        job = await add.enqueue(a=1, _defer_by=timedelta(seconds=0.6))
        await asyncio.sleep(0.3)
        assert await job.status() is JobState.queued
        assert await job.result(timeout=5) == 3
        info = await job.info()
        later = await add.enqueue(a=2, _defer_until=datetime.now(UTC) + timedelta(seconds=0.3))
        assert await later.result(timeout=5) == 4
    assert info is not None and info.started_at is not None
    assert info.started_at - info.enqueued_at >= timedelta(seconds=0.55)
    assert info.run_at - info.enqueued_at >= timedelta(seconds=0.55)


async def test_the_context_gives_job_id_attempt_and_settings(harness: Harness) -> None:
    async with harness.run():
        job = await context.enqueue()
        seen = await job.result(timeout=5)
    assert seen["job_id"] == job.id
    assert (seen["task"], seen["attempt"], seen["max_attempts"]) == ("t_context", 1, 1)
    assert seen["queue"] == harness.settings.task_queue_name
    assert datetime.fromisoformat(seen["enqueued_at"]).tzinfo is not None


async def test_a_job_moves_from_in_progress_to_complete(harness: Harness) -> None:
    key = uuid4().hex
    gate[key] = asyncio.Event()
    async with harness.run():
        job = await gated.enqueue(key=key)
        assert await wait_for_state(job, JobState.in_progress)
        gate[key].set()
        assert await job.result(timeout=5) == key
        assert await job.status() is JobState.complete


async def test_orm_calls_work_inside_tasks(harness: Harness) -> None:
    async with harness.run():
        ada = await Author.objects.create(name="Ada")
        job = await author_name.enqueue(author_id=ada.id)
        assert await job.result(timeout=5) == "Ada"


async def test_enqueue_inside_a_transaction_waits_for_the_commit(harness: Harness) -> None:
    async with harness.run():
        async with transaction():
            grace = await Author.objects.create(name="Grace")
            job = await author_name.enqueue(author_id=grace.id)
            await asyncio.sleep(0.1)
            assert await job.status() is JobState.not_found
        assert await job.result(timeout=5) == "Grace"


async def test_enqueue_inside_a_rolled_back_transaction_never_runs(harness: Harness) -> None:
    async with harness.run():
        with pytest.raises(RuntimeError, match="abort"):
            async with transaction():
                job = await add.enqueue(a=1)
                raise RuntimeError("abort")
        async with transaction():
            with pytest.raises(RuntimeError, match="savepoint"):
                async with transaction():  # a savepoint, rolled back alone
                    dropped = await add.enqueue(a=2)
                    raise RuntimeError("savepoint")
            kept = await add.enqueue(a=3)
        assert await kept.result(timeout=5) == 5
        await asyncio.sleep(0.1)
        assert await job.status() is JobState.not_found
        assert await dropped.status() is JobState.not_found


async def test_a_job_without_a_record_says_so(harness: Harness) -> None:
    async with harness.run():
        with pytest.raises(JobNotFound, match="no record of job nope of task 't_add'"):
            await add.job("nope").result(timeout=1)
        assert await add.job("nope").status() is JobState.not_found


async def test_a_task_can_enqueue_another_task(harness: Harness) -> None:
    async with harness.run():
        job = await chain.enqueue(a=21)
        child = add.job(await job.result(timeout=5))
        assert await child.result(timeout=5) == 42


async def test_a_cron_task_fires_on_its_schedule(harness: Harness) -> None:
    ticks: list[int] = []

    @task(name="t_tick", cron="* * * * * *")  # every second
    async def tick(ctx: TaskContext) -> int:
        ticks.append(ctx.attempt)
        return len(ticks)

    async with harness.run():
        deadline = time.monotonic() + 5
        while not ticks and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert ticks, "the cron task did not run within 5 s"
        done: list[JobInfo] = []
        while not done and time.monotonic() < deadline:
            done = await harness.backend.history.recent("t_tick", JobState.complete)
            await asyncio.sleep(0.05)
    assert done and done[0].task == "t_tick" and done[0].result >= 1


async def wait_for_state(job: Job[Any], state: JobState, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await job.status() is state:
            return True
        await asyncio.sleep(0.01)
    return False
