"""The staff-only status API: recent jobs by task and state, one job, counts by state; 503 while Redis is down."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import SQLModel

from fastmango import FastMango
from fastmango.auth import User
from fastmango.tasks import TaskFailed
from fastmango.testing import app_client
from tests.auth.conftest import AUTH_TABLES, PASSWORD, bearer, tokens_for
from tests.faults.servers import RedisServer, free_port
from tests.tasks.conftest import Harness, delete_queue_keys, make_settings
from tests.tasks.test_backends import add, broken


async def test_staff_see_recent_jobs_and_counts_by_state(harness: Harness) -> None:
    async with harness.run() as client:
        async with harness.app.state.database.engine.begin() as conn:
            tables = [SQLModel.metadata.tables[t] for t in AUTH_TABLES]
            await conn.run_sync(SQLModel.metadata.create_all, tables=tables)
        await User.objects.create_user("staff", PASSWORD, is_staff=True)
        await User.objects.create_user("plain", PASSWORD)
        staff = bearer((await tokens_for(client, "staff"))["access_token"])
        plain = bearer((await tokens_for(client, "plain"))["access_token"])

        done = [await add.enqueue(a=n) for n in range(2)]
        for job in done:
            await job.result(timeout=5)
        failed = await broken.enqueue()
        with pytest.raises(TaskFailed):
            await failed.result(timeout=5)

        assert (await client.get("/tasks/jobs")).status_code == 401
        assert (await client.get("/tasks/stats", headers=plain)).status_code == 403
        listed = await client.get("/tasks/jobs", params={"task": "t_add"}, headers=staff)
        failures = await client.get("/tasks/jobs", params={"state": "failed"}, headers=staff)
        one = await client.get(f"/tasks/jobs/{failed.id}", headers=staff)
        missing = await client.get("/tasks/jobs/nope", headers=staff)
        stats = await client.get("/tasks/stats", headers=staff)
        bad_state = await client.get("/tasks/jobs", params={"state": "lost"}, headers=staff)

    assert listed.status_code == 200
    assert [j["id"] for j in listed.json()["items"]] == [done[1].id, done[0].id]
    assert listed.json()["items"][0]["result"] == 3
    assert [j["id"] for j in failures.json()["items"]] == [failed.id]
    assert one.json()["error"] == "RuntimeError: always broken" and one.json()["attempt"] == 2
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    body = stats.json()
    assert (body["backend"], body["queue"]) == (harness.kind, harness.settings.task_queue_name)
    assert body["tasks"]["t_add"] == {"queued": 0, "in_progress": 0, "retried": 0, "complete": 2, "failed": 0}
    assert body["tasks"]["t_broken"]["failed"] == 1
    assert body["tasks"]["t_context"]["complete"] == 0  # registered tasks without jobs are listed too
    assert bad_state.status_code == 422


def app_on(tmp_path: Path, redis_url: str, **settings: Any) -> FastMango:
    """An app on arq at ``redis_url`` with a route that enqueues a job."""
    app = FastMango(settings=make_settings(tmp_path, redis_url, **settings), configure_logging=False)

    @app.post("/welcome")
    async def welcome() -> dict[str, str]:
        return {"job": (await add.enqueue(a=1, b=2)).id}

    return app


async def staff_headers(app: FastMango) -> dict[str, str]:
    """A staff user's Bearer token, minted without logging in (Redis may be down already)."""
    async with app.state.database.engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    user = await User.objects.create_user("staff", PASSWORD, is_staff=True)
    assert user.id is not None
    token, _ = app.state.auth.tokens.issue(user.id, "access", version=app.state.auth.tokens.version_of(user))
    return bearer(token)


async def answers(client: httpx.AsyncClient, staff: dict[str, str]) -> dict[str, httpx.Response]:
    return {
        "enqueue": await client.post("/welcome"),
        "jobs": await client.get("/tasks/jobs", headers=staff),
        "job": await client.get("/tasks/jobs/abc", headers=staff),
        "stats": await client.get("/tasks/stats", headers=staff),
    }


def assert_unavailable(responses: dict[str, httpx.Response]) -> None:
    for name, response in responses.items():
        assert response.status_code == 503, name
        assert response.headers["content-type"] == "application/problem+json", name
        assert int(response.headers["retry-after"]) > 0, name
        body = response.json()
        assert body["type"] == "https://fastmango.dev/problems/service-unavailable", name
        assert "127.0.0.1" not in response.text and "Error" not in response.text, name


async def test_with_redis_down_enqueue_and_the_task_api_answer_503_with_retry_after(tmp_path: Path) -> None:
    app = app_on(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    async with app_client(app) as client:  # the app starts without Redis
        assert_unavailable(await answers(client, await staff_headers(app)))
        assert (await client.get("/health")).status_code == 200


async def test_with_redis_hung_they_answer_503_within_the_socket_timeout_and_recover(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    app = app_on(tmp_path, redis_server.url_of(5), redis_socket_timeout=1.0)
    async with app_client(app) as client:
        staff = await staff_headers(app)
        backend = app.state.tasks
        backend.outage.retry_seconds = 0.5  # after a failure, Redis is left alone this long (5 s by default)
        backend.provisional_ttl = 1  # how long the record of a job being enqueued lives until it is queued
        try:
            with redis_server.paused():
                started = time.monotonic()
                responses = await answers(client, staff)
                hung = time.monotonic() - started
            assert_unavailable(responses)
            assert hung < 10  # four requests, 1 s socket timeout: not 30 s+ each
            # Once resumed, Redis runs the commands it had received: the refused job's provisional record expires.
            await asyncio.sleep(max(backend.outage.retry_seconds, backend.provisional_ttl) + 0.5)
            enqueued = await client.post("/welcome")
            stats = await client.get("/tasks/stats", headers=staff)
        finally:
            await delete_queue_keys(redis_server.url_of(5), app.settings.task_queue_name)
    assert enqueued.status_code == 200 and stats.status_code == 200  # recovered without a restart
    assert stats.json()["tasks"]["t_add"]["queued"] == 1  # the job refused with a 503 is not listed
