"""The task monitor API (fastmango.monitoring.task_monitor) on both task backends: jobs from the job events, a
job's timeline, retry of a failed job, abort of a queued one, the cron schedule, the live workers, who may."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlmodel import SQLModel

from fastmango.auth import User
from fastmango.auth.permissions import sync_permissions
from fastmango.core.redis import redis_client
from fastmango.tasks import JobState, TaskContext, TaskFailed, task
from fastmango.tasks.backends import get_backend
from fastmango.tasks.definition import _registry
from fastmango.tasks.events import JobEventRecord, events
from tests.auth.conftest import AUTH_TABLES, PASSWORD, bearer, tokens_for
from tests.tasks.conftest import Harness, delete_queue_keys, make_settings
from tests.tasks.test_worker import Project, project, redis_project, stop  # noqa: F401  (fixtures)

API = "/admin/api/monitoring/tasks"
broken = {"on": True}
ran: list[int] = []


@task
async def mon_fragile(ctx: TaskContext, n: int) -> int:
    if broken["on"]:
        raise RuntimeError("the cause")
    return n + 1


@task
async def mon_later(ctx: TaskContext, n: int) -> None:
    ran.append(n)


@task(cron="*/5 * * * *")
async def mon_every_five(ctx: TaskContext) -> None:
    return None


@pytest.fixture(autouse=True)
def clean_state() -> Iterator[None]:
    before = dict(_registry)
    events.discard()
    broken["on"] = True
    ran.clear()
    yield
    events.discard()
    _registry.clear()
    _registry.update(before)


@asynccontextmanager
async def monitored(kind: str, tmp_path: Path, redis_url: str | None) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, redis_url, task_heartbeat_seconds=0.2)
    try:
        yield Harness(kind, settings)
    finally:
        if redis_url:
            await delete_queue_keys(redis_url, settings.task_queue_name)


@pytest.fixture(params=["inline", "arq"])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    redis_url = str(request.getfixturevalue("redis_url")) if request.param == "arq" else None
    async with monitored(request.param, tmp_path, redis_url) as harness:
        yield harness


@pytest.fixture
async def arq_harness(redis_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """Heartbeats expire in Redis: arq only."""
    async with monitored("arq", tmp_path, redis_url) as harness:
        yield harness


@asynccontextmanager
async def monitor(harness: Harness) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, dict[str, str]]]]:
    """The app running with its tables, and the headers of: viewer (view), changer (view, change), staff (none)."""
    async with harness.run() as client:
        async with harness.app.state.database.engine.begin() as conn:
            tables = [SQLModel.metadata.tables[t] for t in [*AUTH_TABLES, "tasks_job_event"]]
            await conn.run_sync(SQLModel.metadata.create_all, tables=tables)
        await sync_permissions()
        headers = {}
        for name, codenames in {
            "viewer": ["monitoring.view"],
            "changer": ["monitoring.view", "monitoring.change"],
        }.items():
            user = await User.objects.create_user(name, PASSWORD, is_staff=True)
            await user.grant(*codenames)
            headers[name] = bearer((await tokens_for(client, name))["access_token"])
        await User.objects.create_user("staff", PASSWORD, is_staff=True)
        headers["staff"] = bearer((await tokens_for(client, "staff"))["access_token"])
        yield client, headers


async def test_a_failed_job_is_listed_and_retried_once_its_cause_is_fixed(harness: Harness) -> None:
    async with monitor(harness) as (client, who):
        job = await mon_fragile.enqueue(n=41)
        with pytest.raises(TaskFailed):
            await job.result(timeout=10)
        await events.flush()

        failed_response = await client.get(f"{API}/jobs", params={"state": "failed"}, headers=who["viewer"])
        assert failed_response.status_code == 200, failed_response.text
        failed = failed_response.json()
        assert [(j["job_id"], j["task"], j["error"]) for j in failed["items"]] == [
            (job.id, "mon_fragile", "RuntimeError: the cause")
        ]
        assert failed["next_offset"] is None
        timeline = (await client.get(f"{API}/jobs/{job.id}", headers=who["viewer"])).json()
        assert sorted(e["event"] for e in timeline["events"]) == ["failed", "queued", "started"]
        assert timeline["job"]["state"] == "failed"
        assert timeline["info"]["args"] == {"n": 41}

        broken["on"] = False
        retried = await client.post(f"{API}/jobs/{job.id}/retry", headers=who["changer"])
        assert retried.status_code == 201, retried.text
        new_id = retried.json()["job_id"]
        assert new_id != job.id and retried.json()["retry_of"] == job.id
        assert await mon_fragile.job(new_id).result(timeout=10) == 42
        await events.flush()

        listed = (await client.get(f"{API}/jobs", params={"task": "mon_fragile"}, headers=who["viewer"])).json()
        assert [(j["job_id"], j["state"]) for j in listed["items"]] == [(new_id, "succeeded"), (job.id, "failed")]
        page = (await client.get(f"{API}/jobs", params={"limit": 1}, headers=who["viewer"])).json()
        assert (len(page["items"]), page["next_offset"]) == (1, 1)

        again = await client.post(f"{API}/jobs/{new_id}/retry", headers=who["changer"])
        assert again.status_code == 409
        assert again.headers["content-type"].startswith("application/problem+json")
        assert "only a failed job can be retried" in again.json()["detail"]
        assert (await client.post(f"{API}/jobs/nope/retry", headers=who["changer"])).status_code == 404
        assert (await client.get(f"{API}/jobs/nope", headers=who["viewer"])).status_code == 404
        bad_state = await client.get(f"{API}/jobs", params={"state": "lost"}, headers=who["viewer"])
        bad_since = await client.get(f"{API}/jobs", params={"since": "yesterday"}, headers=who["viewer"])
        assert (bad_state.status_code, bad_since.status_code) == (400, 400)
        assert bad_state.headers["content-type"].startswith("application/problem+json")
        later = datetime.now(UTC).isoformat()
        assert (await client.get(f"{API}/jobs", params={"since": later}, headers=who["viewer"])).json()["items"] == []


async def test_a_queued_job_is_aborted_and_never_runs(harness: Harness) -> None:
    async with monitor(harness) as (client, who):
        job = await mon_later.enqueue(n=1, _defer_by=0.5)
        aborted = await client.post(f"{API}/jobs/{job.id}/abort", headers=who["changer"])
        assert aborted.status_code == 200, aborted.text
        assert aborted.json() == {"job_id": job.id, "task": "mon_later", "state": "aborted"}
        assert await job.status() is JobState.failed
        with pytest.raises(TaskFailed, match="JobAborted"):
            await job.result(timeout=5)
        await asyncio.sleep(1.0)  # past its due time: a worker would have run it
        assert ran == []
        await events.flush()
        listed = (await client.get(f"{API}/jobs", params={"state": "aborted"}, headers=who["viewer"])).json()
        assert [j["job_id"] for j in listed["items"]] == [job.id]
        if harness.kind == "arq":
            client_ = redis_client(harness.settings.redis_url or "")
            try:
                assert await client_.zscore(harness.settings.task_queue_name, job.id) is None
            finally:
                await client_.aclose()

        again = await client.post(f"{API}/jobs/{job.id}/abort", headers=who["changer"])
        assert again.status_code == 409
        done = await mon_later.enqueue(n=2)
        await done.result(timeout=10)
        finished = await client.post(f"{API}/jobs/{done.id}/abort", headers=who["changer"])
        assert finished.status_code == 409
        assert "only a queued job can be aborted" in finished.json()["detail"]
        assert (await client.post(f"{API}/jobs/nope/abort", headers=who["changer"])).status_code == 404


async def test_the_schedule_lists_cron_tasks_with_next_and_last_run(harness: Harness) -> None:
    async with monitor(harness) as (client, who):
        at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        await JobEventRecord.objects.bulk_create(
            [
                JobEventRecord(job_id="c1", task="mon_every_five", event="started", at=at, attempt=1),
                JobEventRecord(job_id="c1", task="mon_every_five", event="failed", at=at, attempt=1, error="E: x"),
            ]
        )
        response = await client.get(f"{API}/schedule", headers=who["viewer"])
        assert response.status_code == 200, response.text
        [item] = [i for i in response.json()["items"] if i["task"] == "mon_every_five"]
        assert item["cron"] == "*/5 * * * *"
        next_run = datetime.fromisoformat(item["next_run"])
        assert next_run > datetime.now(UTC) and next_run.minute % 5 == 0
        assert (item["last_outcome"], item["last_error"], item["last_job_id"]) == ("failed", "E: x", "c1")
        assert datetime.fromisoformat(item["last_run"]) == at
        assert "mon_fragile" not in {i["task"] for i in response.json()["items"]}


async def test_live_workers_show_and_disappear_after_they_stop(harness: Harness) -> None:
    async with monitor(harness) as (client, who):
        answer = (await client.get(f"{API}/workers", headers=who["viewer"])).json()
        if harness.kind == "inline":
            assert (answer["backend"], answer["alive"], answer["workers"]) == ("inline", True, [])
            assert "inline" in answer["detail"] and "no workers" in answer["detail"]
            return
        [worker] = answer["workers"]
        assert answer["alive"] is True
        assert worker["id"] == harness.workers[0].heartbeat.id
        assert worker["queue"] == harness.settings.task_queue_name
        assert "mon_fragile" in worker["tasks"] and worker["pid"] > 0
        await harness.stop_workers()
        gone = (await client.get(f"{API}/workers", headers=who["viewer"])).json()
        assert (gone["alive"], gone["workers"]) == (False, [])
        assert "No worker is alive" in gone["detail"]


async def test_a_worker_that_dies_disappears_when_its_heartbeat_expires(arq_harness: Harness) -> None:
    harness = arq_harness
    async with monitor(harness) as (client, who):
        [worker] = harness.workers

        async def silent(redis: object) -> None:  # it stops beating, as a killed process would
            return None

        worker.heartbeat.beat = silent
        redis = redis_client(harness.settings.redis_url or "")
        try:
            key = f"{harness.settings.task_queue_name}:workers:{worker.heartbeat.id}"
            assert await redis.exists(key)
            await redis.pexpire(key, 300)  # the three missed beats, sooner
            await asyncio.sleep(0.5)
        finally:
            await redis.aclose()
        gone = (await client.get(f"{API}/workers", headers=who["viewer"])).json()
        assert gone["alive"] is False


async def test_who_may_read_retry_and_abort(harness: Harness) -> None:
    async with monitor(harness) as (client, who):
        assert (await client.get(f"{API}/jobs")).status_code == 401
        refused = await client.get(f"{API}/jobs", headers=who["staff"])
        assert refused.status_code == 403
        assert "monitoring.view" in refused.json()["detail"]
        for path in ("/workers", "/schedule", "/jobs/x"):
            assert (await client.get(API + path, headers=who["staff"])).status_code == 403
        assert (await client.get(f"{API}/jobs", headers=who["viewer"])).status_code == 200
        for action in ("retry", "abort"):
            response = await client.post(f"{API}/jobs/x/{action}", headers=who["viewer"])
            assert response.status_code == 403
            assert "monitoring.change" in response.json()["detail"]
            assert (await client.post(f"{API}/jobs/x/{action}")).status_code == 401


async def test_a_fastmango_worker_process_beats_until_it_stops(redis_project: Project) -> None:  # noqa: F811
    backend = get_backend()
    worker = redis_project.start_worker()
    try:
        deadline = time.monotonic() + 20
        while not (found := await backend.workers()):
            assert worker.poll() is None and time.monotonic() < deadline, "the worker never showed up"
            await asyncio.sleep(0.05)
        [alive] = found
        assert (alive.pid, alive.queue) == (worker.pid, backend.queue)
        assert "slow" in alive.tasks
    finally:
        code, output = await asyncio.to_thread(stop, worker)
    assert code == 0, output
    assert await backend.workers() == []  # removed on the clean stop, not left to expire
