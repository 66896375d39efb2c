"""One attempt of a job (fastmango/tasks/runner.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastmango import Settings, TaskContext, task
from fastmango.auth import permission_scope
from fastmango.auth.permission_scope import current_permission_cache
from fastmango.tasks.runner import run_attempt

seen: list[Any] = []


@task(name="r_scope")
async def remember_scope(ctx: TaskContext) -> None:
    seen.append(current_permission_cache())


async def test_each_attempt_runs_in_a_permission_scope_of_its_own() -> None:
    ctx = TaskContext(
        job_id="j1", task="r_scope", attempt=1, max_attempts=1, settings=Settings(), enqueued_at=datetime.now(UTC)
    )
    seen.clear()
    with permission_scope() as request_scope:  # an inline job started by a request
        assert (await run_attempt(remember_scope, ctx, {})).ok
    assert (await run_attempt(remember_scope, ctx, {})).ok
    assert None not in seen
    assert request_scope not in seen
    assert seen[0] is not seen[1]
