"""The job-events record (fastmango.tasks.events): every change of a job's state lands in ``tasks_job_event``,
from the app and from workers, written in batches; old rows are pruned; a database outage loses no event."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import SQLModel

from fastmango.tasks import TaskContext, TaskFailed, task
from fastmango.tasks.events import ERROR_LENGTH, JobEventRecord, events
from fastmango.tasks.signals import JobEvent
from tests.tasks.conftest import Harness, make_settings

attempts: dict[str, int] = {}


@task(retries=1, backoff=0)
async def ev_flaky(ctx: TaskContext, key: str) -> str:
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] == 1:
        raise RuntimeError("first attempt fails")
    return "ok"


@task
async def ev_broken(ctx: TaskContext) -> None:
    raise ValueError("always fails")


@task
async def ev_ok(ctx: TaskContext, n: int) -> int:
    return n * 2


@pytest.fixture(autouse=True)
def empty_buffer() -> Iterator[None]:
    events.discard()
    yield
    events.discard()


async def create_events_table(harness: Harness) -> None:
    async with harness.app.state.database.engine.begin() as conn:
        table = SQLModel.metadata.tables["tasks_job_event"]
        await conn.run_sync(SQLModel.metadata.create_all, tables=[table])


async def recorded(job_id: str) -> list[JobEventRecord]:
    await events.flush()
    return await JobEventRecord.objects.filter(job_id=job_id).order_by("at", "id")


def after_queued(rows: list[JobEventRecord]) -> list[str]:
    """The events after ``queued`` (a worker may start the job before the app sends ``queued``)."""
    return [r.event for r in rows if r.event != "queued"]


async def test_success_retry_and_failure_are_recorded(harness: Harness) -> None:
    async with harness.run():
        await create_events_table(harness)
        ok = await ev_ok.enqueue(n=2)
        flaky = await ev_flaky.enqueue(key=harness.kind)
        broken = await ev_broken.enqueue()
        assert await ok.result(timeout=10) == 4
        assert await flaky.result(timeout=10) == "ok"
        with pytest.raises(TaskFailed):
            await broken.result(timeout=10)

        done = await recorded(ok.id)
        assert [r.event for r in done].count("queued") == 1
        assert after_queued(done) == ["started", "succeeded"]
        assert {r.task for r in done} == {"ev_ok"}
        started = next(r for r in done if r.event == "started")
        assert started.wait is not None and started.wait >= 0
        assert next(r for r in done if r.event == "succeeded").duration is not None

        retried = await recorded(flaky.id)
        assert after_queued(retried) == ["started", "retried", "started", "succeeded"]
        retry = next(r for r in retried if r.event == "retried")
        assert (retry.attempt, retry.max_attempts, retry.error) == (1, 2, "RuntimeError: first attempt fails")

        failed = await recorded(broken.id)
        assert after_queued(failed) == ["started", "failed"]
        assert failed[-1].error == "ValueError: always fails"
        assert failed[-1].at.tzinfo is not None

        # On a worker, each attempt's events name the worker; the app's (queued, inline jobs) name none.
        workers = {r.worker for r in done if r.event != "queued"}
        if harness.kind == "arq":
            assert workers == {harness.workers[0].heartbeat.id}
        else:
            assert workers == {None}
        assert {r.worker for r in done if r.event == "queued"} == {None}


async def test_retention_prunes_old_rows_as_part_of_a_flush(harness: Harness) -> None:
    async with harness.run():
        await create_events_table(harness)
        old = datetime.now(UTC) - timedelta(days=15)
        await JobEventRecord.objects.bulk_create(
            [
                JobEventRecord(job_id="old", task="t", event="queued", at=old),
                JobEventRecord(job_id="new", task="t", event="queued"),
            ]
        )
        events._pruned_at = None  # the first flush of a process prunes
        events.receive(JobEvent("queued", "t", "fresh", datetime.now(UTC)))
        await events.flush()
        assert sorted(await JobEventRecord.objects.values_list("job_id", flat=True)) == ["fresh", "new"]
        # Within the hour, flushes do not prune again; prune() itself does.
        await JobEventRecord.objects.create(job_id="old2", task="t", event="queued", at=old)
        events.receive(JobEvent("queued", "t", "fresh2", datetime.now(UTC)))
        await events.flush()
        assert await JobEventRecord.objects.filter(job_id="old2").exists()
        assert await events.prune() == 1


async def test_a_database_outage_keeps_the_events_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    harness = Harness("inline", make_settings(tmp_path))  # the buffer does not depend on the backend
    async with harness.run():
        events._failing = False
        with caplog.at_level(logging.WARNING, logger="fastmango.tasks"):
            for n in range(3):  # no table yet: every write fails
                events.receive(JobEvent("queued", "t", f"job{n}", datetime.now(UTC), error="x" * (ERROR_LENGTH + 50)))
                await events.flush()
        assert len(events.buffer) == 3
        assert len([r for r in caplog.records if "could not write" in r.getMessage()]) == 1
        await create_events_table(harness)
        await events.flush()
        assert events.buffer == []
        rows = await JobEventRecord.objects.order_by("job_id")
        assert [r.job_id for r in rows] == ["job0", "job1", "job2"]
        assert rows[0].error is not None and len(rows[0].error) == ERROR_LENGTH  # bounded
