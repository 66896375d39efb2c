"""The job_event signal: each change of a job's state, on both backends, with its timings and error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fastmango import TaskContext, task
from fastmango.tasks import TaskFailed
from fastmango.tasks.signals import JobEvent, job_event
from tests.tasks.conftest import Harness


@task(name="s_flaky", retries=2, backoff=0.01)
async def flaky(ctx: TaskContext) -> int:
    if ctx.attempt == 1:
        raise ConnectionError("the mail server hung up")
    return ctx.attempt


@task(name="s_broken", retries=0)
async def broken(ctx: TaskContext) -> None:
    raise RuntimeError("always broken")


@pytest.fixture
def events() -> Iterator[list[JobEvent]]:
    received: list[JobEvent] = []
    disconnect = job_event.connect(received.append)
    yield received
    disconnect()


async def test_a_retried_job_announces_queued_started_retried_started_succeeded(
    harness: Harness, events: list[JobEvent]
) -> None:
    async with harness.run():
        job = await flaky.enqueue()
        assert await job.result(timeout=5) == 2
    mine = [event for event in events if event.job_id == job.id]
    assert [(e.event, e.attempt) for e in mine] == [
        ("queued", 0),
        ("started", 1),
        ("retried", 1),
        ("started", 2),
        ("succeeded", 2),
    ]
    assert mine[2].error == "ConnectionError: the mail server hung up" and mine[2].duration is not None
    assert all(e.task == "s_flaky" and e.max_attempts == 3 for e in mine)
    assert mine[1].wait is not None and mine[1].wait >= 0


async def test_the_last_failure_is_announced_as_failed(harness: Harness, events: list[JobEvent]) -> None:
    async with harness.run():
        job = await broken.enqueue()
        with pytest.raises(TaskFailed):
            await job.result(timeout=5)
    assert [(e.event, e.error) for e in events if e.job_id == job.id][-1] == ("failed", "RuntimeError: always broken")
