"""The staff-only status API: recent jobs by task and state, one job, counts by state."""

from __future__ import annotations

import pytest
from sqlmodel import SQLModel

from fastmango.auth import User
from fastmango.tasks import TaskFailed
from tests.auth.conftest import AUTH_TABLES, PASSWORD, bearer, tokens_for
from tests.tasks.conftest import Harness
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
