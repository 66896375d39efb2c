"""Task fixtures: one harness drives the same tests on the inline backend and on arq with a real Redis.

On arq the harness runs arq workers in-process (arq's ``Worker`` as an asyncio task) on a queue of the
test's own; its Redis keys are removed afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import SQLModel

from fastmango import FastMango, Settings
from fastmango.core.redis import redis_client
from fastmango.tasks import Task
from fastmango.tasks.backends import Backend
from fastmango.tasks.definition import _registry, registered_tasks
from fastmango.testing import app_client
from tests.db.models import Author, Publisher
from tests.faults.servers import redis_server  # noqa: F401  (fixture: a Redis of its own, to hang)

FAST_POLL = 0.01


@pytest.fixture(autouse=True)
def restore_registry() -> Iterator[None]:
    """Tasks a test defines leave the registry with it."""
    before = dict(_registry)
    yield
    _registry.clear()
    _registry.update(before)


def make_settings(tmp_path: Path, redis_url: str | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path}/tasks.sqlite3",
        "redis_url": redis_url,
        "task_queue_name": f"fm-test:{uuid.uuid4().hex[:10]}",
        "secret_key": "s" * 64,  # long enough for every algorithm, HS512 included (RFC 7518 section 3.2)
        "password_argon2_time_cost": 1,
        "password_argon2_memory_kib": 1024,
    }
    return Settings(**(values | overrides))


class Harness:
    """An app on one backend; on arq, with workers running its tasks."""

    def __init__(self, kind: str, settings: Settings) -> None:
        self.kind = kind
        self.settings = settings
        self.app = FastMango(settings=settings, configure_logging=False)
        self.client: httpx.AsyncClient | None = None
        self.workers: list[Any] = []
        self._runs: list[asyncio.Task[Any]] = []

    @property
    def backend(self) -> Backend:
        backend: Backend = self.app.state.tasks
        return backend

    @asynccontextmanager
    async def run(self, tables: bool = True, **worker_options: Any) -> AsyncIterator[httpx.AsyncClient]:
        """Start the app (and, on arq, a worker for every registered task); stop them when the block ends."""
        async with AsyncExitStack() as stack:
            self.client = await stack.enter_async_context(app_client(self.app))
            if tables:
                async with self.app.state.database.engine.begin() as conn:
                    await conn.run_sync(
                        SQLModel.metadata.create_all,
                        tables=[Publisher.__table__, Author.__table__],  # type: ignore[attr-defined]
                    )
            if self.kind == "arq":
                stack.push_async_callback(self.stop_workers)
                await self.start_worker(**worker_options)
            yield self.client

    async def start_worker(self, tasks: list[Task[Any]] | None = None, **options: Any) -> Any:
        """Start one more arq worker (in this event loop) for ``tasks`` (every registered task by default)."""
        options = {"poll_delay": FAST_POLL, "handle_signals": False, "grace": 0} | options
        worker = self.backend.create_worker(registered_tasks() if tasks is None else tasks, **options)  # type: ignore[attr-defined]
        self.workers.append(worker)
        self._runs.append(asyncio.create_task(worker.async_run()))
        return worker

    async def stop_workers(self) -> None:
        from fastmango.tasks.arq_backend import stop_worker

        for worker in self.workers:
            await stop_worker(worker)
        for run in self._runs:
            with suppress(asyncio.CancelledError):
                await run
        self.workers.clear()
        self._runs.clear()


async def delete_queue_keys(redis_url: str, queue: str) -> None:
    """Remove a test queue's keys, and arq's keys of the jobs it held."""
    client = redis_client(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{queue}*")]
        job_ids = {key.rsplit(":job:", 1)[1] for key in keys if ":history:job:" in key}
        job_ids.update(await client.zrange(queue, 0, -1))  # queued jobs, with or without a record
        arq_keys = [f"arq:{kind}:{i}" for i in job_ids for kind in ("job", "result", "in-progress", "retry")]
        if keys or arq_keys:
            await client.delete(*keys, *arq_keys)
    finally:
        await client.aclose()


@pytest.fixture(params=["inline", "arq"])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    """An app on the inline backend, or on arq (with the real Redis; skipped without it, failed in CI)."""
    redis_url = str(request.getfixturevalue("redis_url")) if request.param == "arq" else None
    settings = make_settings(tmp_path, redis_url)
    harness = Harness(request.param, settings)
    try:
        yield harness
    finally:
        if redis_url:
            await delete_queue_keys(redis_url, settings.task_queue_name)


@pytest.fixture
async def arq_harness(redis_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """An app on arq only."""
    settings = make_settings(tmp_path, redis_url)
    harness = Harness("arq", settings)
    try:
        yield harness
    finally:
        await delete_queue_keys(redis_url, settings.task_queue_name)
