"""Live logs: a viewer on one app process receives the records logged in another through Redis, filtered, with
heartbeats, and is forgotten when it disconnects or stops reading; without Redis (and while Redis is down) a process
streams its own records.

Two uvicorn processes (A and B) of one small project share the test Redis and a channel of this module's own; they
are started once per module. The no-Redis and outage cases run the stream in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from fastmango.core.logging import request_id_var
from fastmango.monitoring.logstream import LogStream, serialize
from fastmango.monitoring.logstream_api import parse_level
from tests.faults.servers import RedisServer, redis_server  # noqa: F401  (fixture: a Redis of this module's own)
from tests.serving import wait_healthy

PASSWORD = "correct horse battery staple"
STARTUP = 60.0  # seconds a process may take to start on a loaded 2-core machine: a bound, not a timing
STREAM = "/admin/api/monitoring/logs/stream"
RECENT = "/admin/api/monitoring/logs/recent"
CLIENT_QUEUE = 20

APP_PY = """
import logging
import os
import threading
from contextlib import asynccontextmanager

from fastmango import FastMango, Settings
from fastmango.monitoring.logstream_api import install_logstream


@asynccontextmanager
async def lifespan(app):
    await stream.start()
    yield
    await stream.stop()


app = FastMango(settings=Settings(), lifespan=lifespan)
stream = install_logstream(app)


@app.post("/emit")
async def emit(
    logger: str = "lproj", level: str = "INFO", message: str = "hello", count: int = 1, size: int = 0,
    thread: bool = False,
) -> dict[str, bool]:
    log = logging.getLogger(logger)

    def run() -> None:
        for _ in range(count):
            log.log(logging.getLevelName(level), "%s%s", message, "x" * size)

    if thread:
        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
    else:
        run()
    return {"ok": True}


@app.get("/clients")
async def clients() -> dict[str, int]:
    return {"clients": stream.clients, "dropped": stream.dropped_clients, "pid": os.getpid()}
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
    watcher = await User.objects.create_user("watcher", password={PASSWORD!r}, is_staff=True)
    await watcher.grant("monitoring.view")
    await User.objects.create_user("staffer", password={PASSWORD!r}, is_staff=True)


asyncio.run(main())
"""

SERVE_PY = """
import socket

import uvicorn

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(64)
print(sock.getsockname()[1], flush=True)
config = uvicorn.Config("lproj.app:app", log_level="warning", access_log=False, lifespan="on")
uvicorn.Server(config).run(sockets=[sock])
"""


@dataclass
class App:
    url: str
    log: Path
    process: subprocess.Popen[str]


@dataclass
class Stack:
    a: App
    b: App
    channel: str
    auth: dict[str, str] = field(default_factory=dict)
    staff_only: dict[str, str] = field(default_factory=dict)


def project_env(root: Path, redis_url: str, channel: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if (not key.startswith("FASTMANGO_") or key.startswith("FASTMANGO_TEST_"))
        and key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}
    }
    return env | {
        "FASTMANGO_ENV": "dev",
        "DATABASE_URL": f"sqlite:///{root}/db.sqlite3",
        "REDIS_URL": redis_url,
        "SECRET_KEY": "s" * 64,
        "FASTMANGO_TASK_QUEUE_NAME": f"fm-test:{uuid.uuid4().hex[:10]}",
        "FASTMANGO_PASSWORD_ARGON2_TIME_COST": "1",
        "FASTMANGO_PASSWORD_ARGON2_MEMORY_KIB": "1024",
        "FASTMANGO_LOG_FORMAT": "text",
        "FASTMANGO_LOGSTREAM_CHANNEL": channel,
        "FASTMANGO_LOGSTREAM_PING_SECONDS": "0.5",
        "FASTMANGO_LOGSTREAM_CLIENT_QUEUE": str(CLIENT_QUEUE),
        "FASTMANGO_LOGSTREAM_SEND_TIMEOUT": "2",
    }


def start_app(root: Path, env: dict[str, str], name: str) -> App:
    log = root / f"{name}.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "lproj.serve"], cwd=root, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    return App("", log, process)


def wait_served(app: App) -> None:
    assert app.process.stdout is not None
    line = app.process.stdout.readline()
    assert line.strip().isdigit(), app.log.read_text()
    app.url = f"http://127.0.0.1:{int(line)}"
    wait_healthy(app.url, app.process, app.log, STARTUP)


def stop_app(app: App) -> None:
    app.process.terminate()
    try:
        app.process.wait(30)
    except subprocess.TimeoutExpired:
        app.process.kill()
        app.process.wait()


def token(app: App, username: str) -> dict[str, str]:
    response = httpx.post(app.url + "/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("logstream")
    package = root / "lproj"
    package.mkdir()
    (root / "pyproject.toml").write_text('[tool.fastmango]\napp = "lproj.app:app"\n')
    for name, text in {"__init__.py": "", "app.py": APP_PY, "seed.py": SEED_PY, "serve.py": SERVE_PY}.items():
        (package / name).write_text(text)
    channel = f"fm-test-logs:{uuid.uuid4().hex[:10]}"
    env = project_env(root, redis_url, channel)
    seeded = subprocess.run(
        [sys.executable, "-m", "lproj.seed"], cwd=root, env=env, capture_output=True, text=True, timeout=60
    )
    assert seeded.returncode == 0, seeded.stderr
    apps = [start_app(root, env, "a"), start_app(root, env, "b")]
    try:
        for app in apps:
            wait_served(app)
        stack = Stack(apps[0], apps[1], channel=channel)
        stack.auth = token(stack.a, "watcher")
        stack.staff_only = token(stack.a, "staffer")
        yield stack
    finally:
        for app in apps:
            stop_app(app)
        shared = redis.Redis.from_url(redis_url, socket_timeout=5)
        shared.delete(f"{channel}:recent")
        shared.close()


def events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """The ``(event, data)`` pairs of a server-sent events response (comments skipped)."""
    name, data = "message", list[str]()
    for line in response.iter_lines():
        if line == "":
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", list[str]()
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


@contextlib.contextmanager
def viewer(stack: Stack, **params: str) -> Iterator[Iterator[tuple[str, Any]]]:
    """An open stream on process A; yields its events once the ``ready`` event arrived."""
    url = stack.a.url + STREAM
    with httpx.Client(timeout=10.0) as client, client.stream("GET", url, params=params, headers=stack.auth) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        received = events(response)
        kind, ready = next(received)
        assert kind == "ready", ready
        yield received


def emit(app: App, **params: Any) -> httpx.Response:
    response = httpx.post(app.url + "/emit", params=params, headers=params.pop("headers", None), timeout=30)
    assert response.status_code == 200, response.text
    return response


def next_log(received: Iterator[tuple[str, Any]]) -> dict[str, Any]:
    for kind, data in received:
        if kind == "log":
            record: dict[str, Any] = data
            return record
    raise AssertionError("the stream ended")


def wait_clients(stack: Stack, count: int, timeout: float = 10.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        state: dict[str, int] = httpx.get(stack.a.url + "/clients").json()
        if state["clients"] == count or time.monotonic() > deadline:
            assert state["clients"] == count, state
            return state
        time.sleep(0.05)


def test_a_viewer_receives_a_line_logged_in_another_process_and_is_forgotten_when_it_disconnects(stack: Stack) -> None:
    marker = uuid.uuid4().hex
    with viewer(stack, logger="lproj") as received:
        assert wait_clients(stack, 1)
        sent = emit(stack.b, logger="lproj.jobs", level="WARNING", message=f"from B {marker} password=hunter2")
        record = next_log(received)
    assert record["message"] == f"from B {marker} password=***"
    assert record["logger"] == "lproj.jobs" and record["level"] == "WARNING" and record["levelno"] == 30
    assert record["request_id"] == sent.headers["x-request-id"]
    assert record["exception"] is None and record["time"].endswith("Z")
    assert record["process"] == httpx.get(stack.b.url + "/clients").json()["pid"]
    assert record["process"] != httpx.get(stack.a.url + "/clients").json()["pid"]  # only Redis joins them
    wait_clients(stack, 0)


def test_filters_by_level_logger_and_request_id(stack: Stack) -> None:
    marker = uuid.uuid4().hex
    with viewer(stack, level="warning", logger="lproj.jobs") as received:
        emit(stack.b, logger="lproj.jobs", level="INFO", message=f"too low {marker}")
        emit(stack.b, logger="lproj.other", level="ERROR", message=f"other logger {marker}")
        emit(stack.b, logger="lproj.jobsx", level="ERROR", message=f"not a child {marker}")
        emit(stack.b, logger="lproj.jobs.sub", level="ERROR", message=f"wanted {marker}", thread=True)
        assert next_log(received)["message"] == f"wanted {marker}"  # B publishes in order: the others were skipped

    request_id = uuid.uuid4().hex
    with viewer(stack, request_id=request_id) as received:
        emit(stack.b, logger="lproj", level="WARNING", message=f"another request {marker}")
        emit(
            stack.b,
            logger="lproj",
            level="WARNING",
            message=f"this request {marker}",
            headers={"x-request-id": request_id},
        )
        record = next_log(received)
    assert record["message"] == f"this request {marker}" and record["request_id"] == request_id
    wait_clients(stack, 0)


def test_a_viewer_that_stops_reading_is_dropped_when_its_queue_is_full(stack: Stack) -> None:
    host, port = stack.a.url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    try:
        auth = stack.auth["Authorization"]
        sock.sendall(f"GET {STREAM} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n\r\n".encode())
        wait_clients(stack, 1)
        before = wait_clients(stack, 1)["dropped"]
        emit(stack.b, logger="lproj.flood", level="WARNING", message="flood ", count=800, size=8000)
        state = wait_clients(stack, 0)  # its socket buffers filled, then its queue of 20: dropped, never read
        assert state["dropped"] == before + 1
    finally:
        sock.close()


def test_heartbeats_arrive_while_no_record_does(stack: Stack) -> None:
    start = time.monotonic()
    with viewer(stack, logger=f"lproj.silent.{uuid.uuid4().hex}") as received:
        pings = []
        for kind, data in received:
            assert kind == "ping", (kind, data)
            pings.append(data)
            if len(pings) == 2:
                break
    assert time.monotonic() - start < 5 and all(ping["time"].endswith("Z") for ping in pings)
    wait_clients(stack, 0)


def test_recent_lists_the_records_of_every_process_oldest_first(stack: Stack) -> None:
    marker = uuid.uuid4().hex
    emit(stack.a, logger=f"lproj.recent.{marker}", level="WARNING", message="first")
    emit(stack.b, logger=f"lproj.recent.{marker}", level="ERROR", message="second")
    response = httpx.get(stack.a.url + RECENT, params={"logger": f"lproj.recent.{marker}"}, headers=stack.auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "redis" and body["redis"] == "up"
    assert [record["message"] for record in body["records"]] == ["first", "second"]
    assert len({record["process"] for record in body["records"]}) == 2
    errors = httpx.get(
        stack.a.url + RECENT, params={"logger": f"lproj.recent.{marker}", "level": "ERROR"}, headers=stack.auth
    )
    assert [record["message"] for record in errors.json()["records"]] == ["second"]


@pytest.mark.parametrize("path", [STREAM, RECENT])
def test_anonymous_is_401_and_staff_without_monitoring_view_403(stack: Stack, path: str) -> None:
    anonymous = httpx.get(stack.a.url + path)
    assert anonymous.status_code == 401, anonymous.text
    refused = httpx.get(stack.a.url + path, headers=stack.staff_only)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "monitoring.view" in refused.json()["detail"]


@pytest.mark.parametrize("path", [STREAM, RECENT])
def test_an_unknown_level_is_a_400_problem_naming_the_valid_ones(stack: Stack, path: str) -> None:
    response = httpx.get(stack.a.url + path, params={"level": "LOUD"}, headers=stack.auth)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 400 and "'LOUD'" in problem["detail"]
    assert "DEBUG, INFO, WARNING, ERROR, CRITICAL" in problem["detail"]
    wait_clients(stack, 0)


# -- in this process --------------------------------------------------------------------------------------------


def test_levels_parse_by_name_in_any_case() -> None:
    assert parse_level(None) == 0 and parse_level("warning") == 30 and parse_level("CRITICAL") == 50


def test_a_record_is_serialized_with_its_exception_and_without_secrets() -> None:
    try:
        raise ValueError("bad token=abc123")
    except ValueError:
        record = logging.LogRecord("app", logging.ERROR, __file__, 1, "login %s", ("api_key: k1",), sys.exc_info())
    record.password = "hunter2"
    record.user = "ann"
    entry = serialize(record)
    assert entry["message"] == "login api_key: ***"
    assert entry["exception"] == {"type": "ValueError", "message": "bad token=***"}
    assert entry["extra"] == {"password": "***", "user": "ann"}
    assert "hunter2" not in json.dumps(entry) and "abc123" not in json.dumps(entry)


async def test_without_redis_a_line_logged_from_a_thread_reaches_a_viewer_of_this_process() -> None:
    stream = LogStream(level="DEBUG", client_queue=5)
    log = logging.getLogger(f"fm.test.{uuid.uuid4().hex}")
    log.setLevel(logging.DEBUG)
    await stream.start()
    try:
        client = stream.connect(logging.INFO, log.name)
        token = request_id_var.set("req-1")
        try:
            log.info("in the loop")
        finally:
            request_id_var.reset(token)
        worker = threading.Thread(target=log.warning, args=("from a thread",))
        worker.start()
        worker.join()
        log.debug("below the client's level")
        logging.getLogger("fastmango.monitoring.logstream").warning("the stream's own record")
        first = await asyncio.wait_for(client.queue.get(), 2)
        second = await asyncio.wait_for(client.queue.get(), 2)
        assert first[0] == "log" and first[1]["message"] == "in the loop" and first[1]["request_id"] == "req-1"
        assert second[0] == "log" and second[1]["message"] == "from a thread" and second[1]["request_id"] is None
        assert client.queue.empty() and stream.fanout == "process"
        records, source = await stream.history(10, logging.INFO, log.name)
        assert source == "process" and [r["message"] for r in records] == ["in the loop", "from a thread"]

        for number in range(6):  # one more than its queue holds: the client is dropped
            log.error("flood %d", number)
        assert stream.clients == 0 and client.dropped and stream.dropped_clients == 1
    finally:
        await stream.stop()
    assert stream.handler not in logging.getLogger().handlers


async def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_while_redis_is_down_a_process_streams_its_own_records_says_so_once_and_recovers(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    stream = LogStream(
        redis_url=redis_server.url_of(0),
        channel=f"fm-test-logs:{uuid.uuid4().hex[:8]}",
        retry_seconds=0.3,
        socket_timeout=0.5,
    )
    log = logging.getLogger(f"fm.outage.{uuid.uuid4().hex}")
    log.setLevel(logging.INFO)
    await stream.start()
    try:
        await wait_for(lambda: stream.fanout == "redis")
        client = stream.connect(logger=log.name)
        log.warning("before")
        assert (await asyncio.wait_for(client.queue.get(), 5))[1]["message"] == "before"

        await asyncio.to_thread(redis_server.stop)
        seen: list[tuple[str, dict[str, Any]]] = []
        for number in range(3):
            log.warning("during %d", number)
            await asyncio.sleep(0.1)
        await wait_for(lambda: client.queue.qsize() >= 4)
        while not client.queue.empty():
            seen.append(client.queue.get_nowait())
        statuses = [data for kind, data in seen if kind == "status"]
        assert len(statuses) == 1 and statuses[0]["redis"] == "down" and "this process" in statuses[0]["detail"]
        assert [data["message"] for kind, data in seen if kind == "log"] == ["during 0", "during 1", "during 2"]
        records, source = await stream.history(10, logger=log.name)
        assert source == "process" and records[-1]["message"] == "during 2"

        await asyncio.to_thread(redis_server.start)
        kind, data = await asyncio.wait_for(client.queue.get(), 10)
        assert kind == "status" and data["redis"] == "up" and data["fanout"] == "redis"
        log.warning("after")
        assert (await asyncio.wait_for(client.queue.get(), 5))[1]["message"] == "after"
        assert stream.clients == 1
    finally:
        await stream.stop()
    assert stream.clients == 0
