"""arq specifics: JSON on the wire, history in Redis, unknown tasks, several workers, re-queue on shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
import warnings
from pathlib import Path
from uuid import uuid4

import orjson
import pytest

from fastmango import TaskContext, task
from fastmango.core.errors import ImproperlyConfigured
from fastmango.core.redis import redis_client
from fastmango.tasks import JobInfo, JobState, TaskQueueUnavailable
from fastmango.tasks.arq_backend import ArqBackend, deserialize, serialize
from tests.faults.servers import RedisServer, free_port
from tests.tasks.conftest import Harness, delete_queue_keys, make_settings
from tests.tasks.test_backends import add, gate, gated, wait_for_state


@task(name="t_not_in_worker")
async def elsewhere(ctx: TaskContext) -> None:
    pass


runs: list[str] = []


@task(name="t_counted")
async def counted(ctx: TaskContext, n: int) -> int:
    runs.append(ctx.job_id)
    await asyncio.sleep(0.02)
    return n


async def test_jobs_are_stored_as_json_not_pickle(arq_harness: Harness, redis_url: str) -> None:
    async with arq_harness.run():
        job = await add.enqueue(a=1, _defer_by=60)
        client = redis_client(redis_url)
        try:
            raw = await client.get(f"arq:job:{job.id}")
        finally:
            await client.aclose()
    data = orjson.loads(raw)
    assert data["f"] == "t_add"
    assert data["a"] == [{"a": 1}]


def test_the_serializer_writes_errors_as_text() -> None:
    data = {"r": ValueError("boom"), "s": False}
    assert deserialize(serialize(data)) == {"r": "ValueError: boom", "s": False}
    with pytest.raises(TypeError):
        serialize({"r": object()})


async def test_an_unknown_task_is_logged_and_the_worker_keeps_going(
    arq_harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="fastmango.tasks")
    async with arq_harness.run(tasks=[add]):
        unknown = await elsewhere.enqueue()
        assert await wait_for_state(unknown, JobState.failed)
        known = await add.enqueue(a=40)
        assert await known.result(timeout=5) == 42
        info = await unknown.info()
    assert info is not None and info.error is not None and "no task named 't_not_in_worker'" in info.error
    assert "names the task 't_not_in_worker', which this worker does not know" in caplog.text


async def test_history_keeps_the_newest_jobs_of_each_task(arq_harness: Harness) -> None:
    async with arq_harness.run():
        history = arq_harness.backend.history
        history.size = 3
        jobs = [await add.enqueue(a=i, _defer_by=60) for i in range(5)]
        recent = await history.recent("t_add")
        assert [r.id for r in recent] == [j.id for j in reversed(jobs[2:])]
        assert await jobs[0].status() is JobState.not_found
        stats = await history.stats()
    assert stats["t_add"] == {"queued": 3, "in_progress": 0, "retried": 0, "complete": 0, "failed": 0}


async def test_several_workers_share_a_queue_and_run_each_job_once(arq_harness: Harness) -> None:
    runs.clear()
    async with arq_harness.run(tasks=[counted], concurrency=2):
        second = await arq_harness.start_worker(tasks=[counted], concurrency=2)
        first = arq_harness.workers[0]
        jobs = [await counted.enqueue(n=i) for i in range(30)]
        results = [await job.result(timeout=10) for job in jobs]
        assert results == list(range(30))
        assert first.jobs_complete > 0 and second.jobs_complete > 0
    assert sorted(runs) == sorted(job.id for job in jobs)  # each job ran exactly once


async def test_a_job_cancelled_by_a_stopping_worker_is_requeued_for_the_next(arq_harness: Harness) -> None:
    key = uuid4().hex
    gate[key] = asyncio.Event()
    async with arq_harness.run(tasks=[gated]):
        job = await gated.enqueue(key=key)
        assert await wait_for_state(job, JobState.in_progress)
        await arq_harness.stop_workers()
        info = await job.info()
        assert info is not None and (info.state, info.attempt) == (JobState.queued, 0)
        gate[key].set()
        await arq_harness.start_worker(tasks=[gated])
        assert await job.result(timeout=5) == key
        info = await job.info()
    assert info is not None and info.attempt == 1  # the interrupted attempt did not count


async def test_a_job_cancelled_by_a_signal_is_requeued_before_the_stopped_worker_returns(
    arq_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = uuid4().hex
    gate[key] = asyncio.Event()
    async with arq_harness.run(tasks=[gated]):
        job = await gated.enqueue(key=key)
        assert await wait_for_state(job, JobState.in_progress)
        history = arq_harness.backend.history  # type: ignore[attr-defined]
        update = history.update

        async def slow_update(info: JobInfo) -> None:  # as on a loaded machine: the re-queue's record is late
            await asyncio.sleep(0.3)
            await update(info)

        monkeypatch.setattr(history, "update", slow_update)
        [worker] = arq_harness.workers
        worker.handle_sig(signal.SIGTERM)  # what `fastmango worker` does first on SIGTERM: cancel the running jobs
        await asyncio.sleep(0.05)  # the worker's main task ends and the CLI gets to stop the worker
        await arq_harness.stop_workers()  # then it stops the worker, which cancels whatever still runs
        info = await job.info()
        assert info is not None and (info.state, info.attempt) == (JobState.queued, 0)


async def test_a_stopped_worker_closes_its_redis_pool_without_deprecated_calls(
    arq_harness: Harness, redis_url: str
) -> None:
    async with arq_harness.run(tasks=[counted]):
        job = await counted.enqueue(n=1)
        assert await job.result(timeout=10) == 1
        [worker] = arq_harness.workers
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            await arq_harness.stop_workers()
        assert [str(w.message) for w in caught] == []  # arq's own close() calls redis-py's deprecated close()
        client = redis_client(redis_url)
        try:
            assert not await client.exists(worker.health_check_key)  # the worker cleaned up after itself
        finally:
            await client.aclose()


async def test_with_redis_down_the_app_starts_and_enqueue_fails_clearly_and_fast(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    backend = ArqBackend(settings)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        await backend.start()  # logged, not raised: the app serves what does not need the queue
        for _ in range(3):
            with pytest.raises(
                TaskQueueUnavailable,
                match=r"cannot reach Redis at redis://127.0.0.1:\d+/0 for the task queue \(.*\); start Redis or check",
            ) as raised:
                await backend.enqueue(add, uuid4().hex, {"a": 1, "b": 2}, None)
    assert time.monotonic() - started < 10  # no connection retries a second apart
    assert (raised.value.status, raised.value.headers) == (503, {"Retry-After": "5"})
    assert "127.0.0.1" not in (raised.value.detail or "")  # what a client is told names no host
    assert len([r for r in caplog.records if "Redis is unavailable" in r.getMessage()]) == 1  # once per outage


async def test_with_redis_hung_enqueue_gives_up_after_the_socket_timeout_and_recovers(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    settings = make_settings(tmp_path, redis_server.url_of(4), redis_socket_timeout=1.0)
    backend = ArqBackend(settings)
    backend.outage.retry_seconds = 0.5  # after a failure, Redis is left alone this long (5 s by default)
    await backend.start()
    try:
        with redis_server.paused():
            started = time.monotonic()
            with pytest.raises(TaskQueueUnavailable):
                await backend.enqueue(add, uuid4().hex, {"a": 1, "b": 2}, None)
            hung = time.monotonic() - started
        assert hung < 10  # 1 s socket timeout: not the 30 s+ of a client without one
        await asyncio.sleep(backend.outage.retry_seconds)
        job_id = uuid4().hex
        await backend.enqueue(add, job_id, {"a": 1, "b": 2}, None)  # the same backend, no restart
        info = await backend.history.get(job_id)
        assert info is not None and info.state is JobState.queued
    finally:
        await backend.close()
        await delete_queue_keys(redis_server.url_of(4), settings.task_queue_name)


def test_a_redis_url_of_another_scheme_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "http://127.0.0.1:6379")
    with pytest.raises(ImproperlyConfigured, match="is not a Redis URL"):
        ArqBackend(settings)
