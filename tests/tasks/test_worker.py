"""``fastmango worker`` as users run it: a subprocess in a project, stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fastmango import Settings, TaskContext
from fastmango.tasks import Job, JobState, Task, backends
from tests.tasks.conftest import delete_queue_keys

FASTMANGO = str(Path(sys.executable).parent / "fastmango")

TASKS_PY = """
import asyncio

import fastmango
from fastmango.db import get_database
from sqlalchemy import text


@fastmango.task
async def slow(ctx: fastmango.TaskContext, seconds: float) -> str:
    async with get_database().engine.connect() as conn:  # the worker connected the database
        await conn.execute(text("select 1"))
    await asyncio.sleep(seconds)
    return f"slept {seconds} on attempt {ctx.attempt}"


@fastmango.task(cron="0 0 1 1 *")
async def new_year(ctx: fastmango.TaskContext) -> None:
    pass
"""


@dataclass
class Project:
    root: Path
    env: dict[str, str]
    settings: Settings

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FASTMANGO, *args], cwd=self.root, capture_output=True, text=True, env=self.env | env, timeout=60
        )

    def start_worker(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [FASTMANGO, "worker", "--poll-delay", "0.02", *args],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


def write_project(root: Path) -> None:
    package = root / "wproj"
    package.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.fastmango]\napp = "wproj.app:app"\n')
    (package / "__init__.py").write_text("")
    (package / "app.py").write_text(
        "from fastmango import FastMango, Settings\n\napp = FastMango(settings=Settings())\n"
    )
    (package / "tasks.py").write_text(TASKS_PY)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    root = tmp_path / "wproj_root"
    write_project(root)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("FASTMANGO_") or key.startswith("FASTMANGO_TEST_")
    }
    env |= {"DATABASE_URL": f"sqlite:///{root}/db.sqlite3", "FASTMANGO_LOG_FORMAT": "text"}
    env.pop("REDIS_URL", None)
    yield Project(root, env, Settings(database_url=env["DATABASE_URL"]))


@pytest.fixture
async def redis_project(project: Project, redis_url: str) -> AsyncIterator[Project]:
    queue = f"fm-test:{uuid.uuid4().hex[:10]}"
    project.env |= {"REDIS_URL": redis_url, "FASTMANGO_TASK_QUEUE_NAME": queue}
    project.settings = Settings(database_url=project.env["DATABASE_URL"], redis_url=redis_url, task_queue_name=queue)
    backend = backends.configure(project.settings)
    try:
        yield project
    finally:
        await backend.close()
        await delete_queue_keys(redis_url, queue)


async def _slow(ctx: TaskContext, seconds: float) -> str:
    raise AssertionError("runs in the worker, not here")


slow = Task(_slow, name="slow")  # the project's task as seen by a client: same name, same arguments


async def wait_for(job: Job[Any], state: JobState, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while (current := await job.status()) is not state:
        assert time.monotonic() < deadline, f"job still {current}, not {state}"
        await asyncio.sleep(0.02)


def stop(worker: subprocess.Popen[str]) -> tuple[int, str]:
    worker.send_signal(signal.SIGTERM)
    output, _ = worker.communicate(timeout=30)
    return worker.returncode, output


async def test_sigterm_lets_the_running_job_finish(redis_project: Project) -> None:
    worker = redis_project.start_worker("--grace", "20")
    try:
        job = await slow.enqueue(seconds=1.0)
        await wait_for(job, JobState.in_progress)
    finally:
        code, output = await asyncio.to_thread(stop, worker)
    assert code == 0, output
    assert await job.status() is JobState.complete, output
    assert await job.result() == "slept 1.0 on attempt 1"
    assert "worker on queue" in output and "cron: new_year" in output


async def test_sigterm_past_the_grace_period_requeues_the_job_for_the_next_worker(redis_project: Project) -> None:
    worker = redis_project.start_worker("--grace", "0")
    try:
        job = await slow.enqueue(seconds=1.0)
        await wait_for(job, JobState.in_progress)
    finally:
        code, output = await asyncio.to_thread(stop, worker)
    assert code == 0, output
    assert await job.status() is JobState.queued, output
    burst = await asyncio.to_thread(redis_project.run, "worker", "--burst", "--poll-delay", "0.02")
    assert burst.returncode == 0, burst.stderr
    assert await job.result(timeout=1) == "slept 1.0 on attempt 1"


async def test_a_script_enqueues_after_setup_and_a_burst_worker_runs_the_job(redis_project: Project) -> None:
    script = (
        "import asyncio, fastmango\n"
        "fastmango.setup()\n"
        "from wproj.tasks import slow\n"
        "async def main():\n"
        "    job = await slow.enqueue(seconds='0.1')\n"
        "    print(job.id)\n"
        "asyncio.run(main())\n"
    )
    enqueued = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script],
        cwd=redis_project.root,
        env=redis_project.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert enqueued.returncode == 0, enqueued.stderr
    job = slow.job(enqueued.stdout.strip())
    assert await job.status() is JobState.queued
    burst = await asyncio.to_thread(redis_project.run, "worker", "--burst", "--poll-delay", "0.02")
    assert burst.returncode == 0, burst.stderr
    assert await job.result(timeout=1) == "slept 0.1 on attempt 1"


async def test_tasks_list_prints_tasks_counts_and_recent_jobs(redis_project: Project) -> None:
    job = await slow.enqueue(seconds=0)
    burst = await asyncio.to_thread(redis_project.run, "worker", "--burst", "--poll-delay", "0.02")
    assert burst.returncode == 0, burst.stderr
    listed = await asyncio.to_thread(redis_project.run, "tasks", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == f"Backend arq, queue {redis_project.settings.task_queue_name}"
    assert lines[2].split() == [
        "task",
        "schedule",
        "retries",
        "timeout",
        "queued",
        "in_progress",
        "retried",
        "complete",
        "failed",
    ]
    rows = {line.split()[0]: line.split() for line in lines[3:] if line.strip() and not line.startswith(job.id)}
    assert rows["new_year"] == ["new_year", "0", "0", "1", "1", "*", "0", "300s", "0", "0", "0", "0", "0"]
    assert rows["slow"] == ["slow", "-", "0", "300s", "0", "0", "0", "1", "0"]
    assert rows["fastmango.monitoring.deliver_alert"][1:4] == ["-", "4", "60s"]  # fastmango's own, run by workers
    assert any(line.startswith(job.id) and "complete" in line for line in lines)
    filtered = await asyncio.to_thread(redis_project.run, "tasks", "list", "--state", "failed")
    assert filtered.stdout.rstrip().endswith("No recent jobs.")


def test_the_worker_without_redis_is_one_error_line(project: Project) -> None:
    result = project.run("worker")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: the worker needs the arq backend: set REDIS_URL (without it, jobs run inside the app, inline)"
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens on it once the socket is closed


class HangUp:
    """A TCP server that closes every connection at once (a Redis that is down), counting the attempts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.attempts = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:  # closed
                return
            self.attempts += 1
            connection.close()

    def close(self) -> None:
        self.sock.close()


def test_the_worker_of_a_new_project_with_redis_down_is_one_error_line(project: Project, tmp_path: Path) -> None:
    subprocess.run([FASTMANGO, "init", "demo"], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    root = tmp_path / "demo"
    with (root / "demo" / "tasks.py").open("a") as tasks:
        tasks.write(
            "\nimport fastmango\n\n\n@fastmango.task\nasync def hello(ctx: fastmango.TaskContext) -> None:\n    pass\n"
        )
    redis = HangUp()
    url = f"redis://127.0.0.1:{redis.port}"
    try:
        result = subprocess.run(
            [FASTMANGO, "worker", "--burst"],
            cwd=root,
            capture_output=True,
            text=True,
            env=project.env | {"REDIS_URL": url, "DATABASE_URL": f"sqlite:///{root}/db.sqlite3"},
            timeout=60,
        )
    finally:
        redis.close()
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"Error: cannot reach Redis at {url} for the task queue (")
    assert result.stderr.rstrip().endswith("); start Redis or check REDIS_URL")
    assert redis.attempts == 1  # one attempt, not arq's five retries a second apart


def test_tasks_list_with_redis_down_is_one_error_line(project: Project) -> None:
    url = f"redis://127.0.0.1:{closed_port()}"
    result = project.run("tasks", "list", REDIS_URL=url)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"Error: cannot reach Redis at {url} for the task queue (")


def test_tasks_list_on_the_inline_backend_lists_tasks_and_says_where_history_is(project: Project) -> None:
    result = project.run("tasks", "list")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["new_year", "0", "0", "1"] in [row[:4] for row in rows]
    assert "keeps job history in the memory of the app" in result.stdout


def test_tasks_list_refuses_an_unknown_state(project: Project) -> None:
    result = project.run("tasks", "list", "--state", "lost")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: unknown state 'lost'; use one of queued, in_progress")
