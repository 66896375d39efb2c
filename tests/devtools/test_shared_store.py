"""The debug panel's Redis store across real processes: two uvicorn app processes and a ``fastmango worker --burst``
share one store, it stays within ``debug_panel_max_records``, and a Redis outage loses records, never a request
(the panel, which cannot read them meanwhile, answers 503 with ``Retry-After``).

One small project is written into a temporary folder (SQLite file shared by every process, DEBUG on) and served
three times, once per module: processes A and B on the test Redis (``redis_url``), process C with
``debug_panel_max_records=5`` on a Redis server of this module's own, which the outage test stops and restarts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis

from fastmango.devtools.store import INDEX_KEY, RECORD_KEY
from tests.faults.servers import RedisServer, redis_server  # noqa: F401  (fixture: a Redis of this module's own)
from tests.serving import wait_healthy

FASTMANGO = str(Path(sys.executable).parent / "fastmango")
PASSWORD = "correct horse battery staple"
STARTUP = 60.0  # seconds a process may take to start on a loaded 2-core machine: a bound, not a timing
OUTAGE_BOUND = 3.0  # each request during the outage: well under it (the store's socket timeout is 1 s)
RECOVERY = 15.0  # after a failure the store leaves Redis alone for 5 s (RedisOutage), then tries it again
OUTAGE_WARNING = "debug records are not kept meanwhile"

APP_PY = """
import os

from fastmango import FastMango, Settings
from fastmango.auth import User
from sproj.tasks import remember

app = FastMango(settings=Settings())


@app.get("/users")
async def users() -> dict[str, int]:
    return {"users": await User.objects.count(), "pid": os.getpid()}


@app.post("/remember", status_code=202)
async def enqueue() -> dict[str, str]:
    job = await remember.enqueue(text="hello")
    return {"job": job.id}
"""

TASKS_PY = """
import fastmango
from fastmango.auth import User


@fastmango.task
async def remember(ctx: fastmango.TaskContext, text: str) -> str:
    return f"{text}, {await User.objects.count()} user(s)"
"""

SEED_PY = f"""
import asyncio

import fastmango

fastmango.setup()

from fastmango.auth import User, sync_permissions
from fastmango.db import create_all


async def main() -> None:
    await create_all()
    await sync_permissions()
    staff = await User.objects.create_user("staff", password={PASSWORD!r}, is_staff=True)
    await staff.grant("debug.view")


asyncio.run(main())
"""

SERVE_PY = """
import socket

import uvicorn

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(64)
print(sock.getsockname()[1], flush=True)
config = uvicorn.Config("sproj.app:app", log_level="warning", access_log=False, lifespan="on")
uvicorn.Server(config).run(sockets=[sock])
"""


@dataclass
class App:
    """One served app process."""

    url: str
    log: Path
    process: subprocess.Popen[str]

    def log_text(self) -> str:
        return self.log.read_text()


@dataclass
class Stack:
    root: Path
    env: dict[str, str]
    a: App
    b: App
    c: App
    own: RedisServer
    auth: dict[str, str] = field(default_factory=dict)


def write_project(root: Path) -> None:
    package = root / "sproj"
    package.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.fastmango]\napp = "sproj.app:app"\n')
    files = {"__init__.py": "", "app.py": APP_PY, "tasks.py": TASKS_PY, "seed.py": SEED_PY, "serve.py": SERVE_PY}
    for name, text in files.items():
        (package / name).write_text(text)


def project_env(root: Path, redis_url: str) -> dict[str, str]:
    """The environment of every process: this one's, without its fastmango settings, plus the project's."""
    env = {
        key: value
        for key, value in os.environ.items()
        if (not key.startswith("FASTMANGO_") or key.startswith("FASTMANGO_TEST_"))
        and key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}
    }
    return env | {
        "FASTMANGO_ENV": "dev",
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{root}/db.sqlite3",
        "REDIS_URL": redis_url,
        "SECRET_KEY": "s" * 64,
        "FASTMANGO_TASK_QUEUE_NAME": f"fm-test:{uuid.uuid4().hex[:10]}",
        "FASTMANGO_PASSWORD_ARGON2_TIME_COST": "1",
        "FASTMANGO_PASSWORD_ARGON2_MEMORY_KIB": "1024",
        "FASTMANGO_LOG_FORMAT": "text",
    }


def start_app(root: Path, env: dict[str, str], name: str) -> App:
    log = root / f"{name}.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "sproj.serve"], cwd=root, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    return App("", log, process)


def wait_served(app: App) -> None:
    """Read the port the process printed, then wait until it answers /health."""
    assert app.process.stdout is not None
    line = app.process.stdout.readline()
    assert line.strip().isdigit(), app.log_text()
    app.url = f"http://127.0.0.1:{int(line)}"
    wait_healthy(app.url, app.process, app.log, STARTUP)


def stop_app(app: App) -> None:
    app.process.terminate()
    try:
        app.process.wait(30)
    except subprocess.TimeoutExpired:
        app.process.kill()
        app.process.wait()


def remove_our_keys(client: redis.Redis, hosts: set[str], queue: str) -> None:
    """Delete the records of this module's processes and jobs from the shared Redis database, and the queue's keys."""
    queue_keys = list(client.scan_iter(match=f"{queue}*"))
    job_ids = {key.rsplit(":job:", 1)[1] for key in queue_keys if ":history:job:" in key}
    ids: list[str] = client.lrange(INDEX_KEY, 0, -1)  # type: ignore[assignment]
    for record_id in ids:
        value: str | None = client.get(RECORD_KEY + record_id)  # type: ignore[assignment]
        meta = orjson.loads(value)["meta"] if value is not None else {}
        if meta.get("headers", {}).get("host") in hosts or meta.get("job_id") in job_ids:
            client.lrem(INDEX_KEY, 0, record_id)
            client.delete(RECORD_KEY + record_id)
    arq_keys = [f"arq:{kind}:{i}" for i in job_ids for kind in ("job", "result", "in-progress", "retry")]
    if queue_keys or arq_keys:
        client.delete(*queue_keys, *arq_keys)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str, redis_server: RedisServer) -> Iterator[Stack]:  # noqa: F811
    root = tmp_path_factory.mktemp("shared_store")
    write_project(root)
    env = project_env(root, redis_url)
    seeded = subprocess.run(
        [sys.executable, "-m", "sproj.seed"], cwd=root, env=env, capture_output=True, text=True, timeout=60
    )
    assert seeded.returncode == 0, seeded.stderr
    c_env = env | {"REDIS_URL": redis_server.url_of(0), "FASTMANGO_DEBUG_PANEL_MAX_RECORDS": "5"}
    apps = [start_app(root, env, "a"), start_app(root, env, "b"), start_app(root, c_env, "c")]
    shared = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=5)
    try:
        for app in apps:  # they start side by side
            wait_served(app)
        stack = Stack(root, env, *apps, own=redis_server)
        token = httpx.post(stack.a.url + "/auth/token", data={"username": "staff", "password": PASSWORD})
        assert token.status_code == 200, token.text
        stack.auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        yield stack
    finally:
        for app in apps:
            stop_app(app)
        hosts = {app.url.removeprefix("http://") for app in apps}
        remove_our_keys(shared, hosts, env["FASTMANGO_TASK_QUEUE_NAME"])
        shared.close()


def record_of(stack: Stack, app: App, record_id: str, timeout: float = 5.0) -> dict[str, Any]:
    """The record from ``app``'s panel. The response is sent before its record is saved: wait for it a moment."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{app.url}/_debug/api/records/{record_id}", headers=stack.auth)
        if response.status_code != 404 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            detail: dict[str, Any] = response.json()
            return detail
        time.sleep(0.02)


def listed(stack: Stack, app: App, **params: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{app.url}/_debug/api/records", params=params, headers=stack.auth)
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()
    return records


def test_records_of_two_app_processes_are_listed_and_read_from_either(stack: Stack) -> None:
    on_a = httpx.get(stack.a.url + "/users")
    on_b = httpx.get(stack.b.url + "/users")
    assert on_a.status_code == on_b.status_code == 200
    assert on_a.json()["pid"] != on_b.json()["pid"]  # two processes, two memories: only Redis is shared
    a_id, b_id = on_a.headers["x-debug-record"], on_b.headers["x-debug-record"]
    record_of(stack, stack.b, a_id)
    record_of(stack, stack.a, b_id)

    for app in (stack.a, stack.b):
        ids = [record["id"] for record in listed(stack, app)]
        assert a_id in ids and b_id in ids
        assert ids.index(b_id) < ids.index(a_id)  # newest first

    from_b = record_of(stack, stack.b, a_id)
    assert from_b["kind"] == "request" and from_b["name"] == "GET /users" and from_b["status"] == 200
    assert from_b["meta"]["headers"]["host"] == stack.a.url.removeprefix("http://")
    [query] = from_b["queries"]  # the SQL that process A ran, read from process B
    assert query["sql"] == "SELECT count(*) AS count_1 \nFROM auth_user" and query["model"] == "User"
    assert query["site"].startswith("sproj/app.py:") and query["site"].endswith(" in users")


def test_the_store_keeps_the_newest_max_records_and_deletes_the_rest_from_redis(stack: Stack) -> None:
    ids = []
    for _ in range(9):
        response = httpx.get(stack.c.url + "/users")
        assert response.status_code == 200
        ids.append(response.headers["x-debug-record"])
        record_of(stack, stack.c, ids[-1])  # saved before the next one: the order of the index is the requests'

    newest = list(reversed(ids[-5:]))
    assert [record["id"] for record in listed(stack, stack.c)] == newest
    own = redis.Redis.from_url(stack.own.url_of(0), decode_responses=True, socket_timeout=5)
    try:
        assert own.llen(INDEX_KEY) == 5
        assert own.lrange(INDEX_KEY, 0, -1) == newest
        assert own.exists(*(RECORD_KEY + record_id for record_id in ids[:4])) == 0
        assert own.exists(*(RECORD_KEY + record_id for record_id in newest)) == 5
    finally:
        own.close()
    assert httpx.get(f"{stack.c.url}/_debug/api/records/{ids[0]}", headers=stack.auth).status_code == 404


def timed_get(url: str, headers: dict[str, str] | None = None) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    response = httpx.get(url, headers=headers, timeout=30)
    return response, time.monotonic() - start


def assert_store_unavailable(response: httpx.Response) -> None:
    """The panel cannot read the records: a 503 problem with Retry-After, not a 500 with a traceback."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["type"] == "https://fastmango.dev/problems/service-unavailable"
    assert "store (Redis) is unavailable" in body["detail"] and "traceback" not in body


def outage_warnings(app: App) -> list[str]:
    return [line for line in app.log_text().splitlines() if "Redis is unavailable" in line and OUTAGE_WARNING in line]


def test_a_redis_outage_loses_records_not_requests_and_the_panel_answers_503_meanwhile(stack: Stack) -> None:
    stack.own.stop()
    try:
        for _ in range(4):
            response, seconds = timed_get(stack.c.url + "/users")
            assert response.status_code == 200, response.text
            assert seconds < OUTAGE_BOUND
            assert response.headers["x-debug-record"]
        for path in ("/_debug/api/records", f"/_debug/api/records/{response.headers['x-debug-record']}"):
            panel, seconds = timed_get(stack.c.url + path, headers=stack.auth)
            assert_store_unavailable(panel)
            assert seconds < OUTAGE_BOUND
    finally:
        stack.own.start()  # on the same port, empty
    assert len(outage_warnings(stack.c)) == 1, stack.c.log_text()

    own = redis.Redis.from_url(stack.own.url_of(0), decode_responses=True, socket_timeout=5)
    try:
        deadline = time.monotonic() + RECOVERY
        while True:
            response = httpx.get(stack.c.url + "/users")
            assert response.status_code == 200
            if own.exists(RECORD_KEY + response.headers["x-debug-record"]):
                break
            assert time.monotonic() < deadline, f"no record kept {RECOVERY} s after Redis came back"
            time.sleep(0.25)
    finally:
        own.close()
    assert record_of(stack, stack.c, response.headers["x-debug-record"])["name"] == "GET /users"
    assert "Redis is reachable again (debug records are not kept meanwhile)" in stack.c.log_text()
    assert len(outage_warnings(stack.c)) == 1, stack.c.log_text()


def test_a_job_run_by_a_worker_process_is_recorded_and_linked_to_the_request_that_queued_it(stack: Stack) -> None:
    response = httpx.post(stack.a.url + "/remember")
    assert response.status_code == 202, response.text
    job_id = response.json()["job"]
    request = record_of(stack, stack.b, response.headers["x-debug-record"])
    assert request["tasks"] == [{"task": "remember", "job_id": job_id, "run_at": None}]

    burst = subprocess.run(
        [FASTMANGO, "worker", "--burst", "--poll-delay", "0.02"],
        cwd=stack.root,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert burst.returncode == 0, burst.stderr

    linked = record_of(stack, stack.b, request["id"])["linked"]
    [summary] = [record for record in linked if record["kind"] == "job"]
    job = record_of(stack, stack.a, summary["id"])
    assert job["meta"]["job_id"] == job_id and job["meta"]["attempt"] == 1
    assert job["name"] == "remember" and job["status"] == "ok"
    [query] = job["queries"]  # the task's own SQL, recorded in the worker process
    assert query["sql"] == "SELECT count(*) AS count_1 \nFROM auth_user" and query["site"].startswith("sproj/tasks.py:")
    assert job["id"] in [record["id"] for record in listed(stack, stack.a, kind="job")]
    assert request["id"] in [record["id"] for record in job["linked"]]  # and back, from the job to its request
