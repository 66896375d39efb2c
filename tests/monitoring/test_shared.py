"""Metrics across processes through Redis: two uvicorn app processes report the summed count from either, and a
Redis outage keeps requests answering (their metrics kept in memory and flushed once Redis is back)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from fastmango.testing import app_client
from tests.faults.servers import RedisServer, redis_server  # noqa: F401  (fixture: a Redis of this module's own)
from tests.monitoring.conftest import TOKEN, build_app, labels, parse, scrape

STARTUP = 60.0  # seconds a process may take to start on a loaded 2-core machine: a bound, not a timing
RECOVERY = 15.0  # after a failure the monitor leaves Redis alone for 5 s (RedisOutage), then tries again

APP_PY = """
import os

from fastmango import FastMango, Settings

app = FastMango(settings=Settings())


@app.get("/hello/{name}")
async def hello(name: str) -> dict[str, int]:
    return {"pid": os.getpid()}
"""

SERVE_PY = """
import socket

import uvicorn

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(64)
print(sock.getsockname()[1], flush=True)
config = uvicorn.Config("mproj.app:app", log_level="warning", access_log=False, lifespan="on")
uvicorn.Server(config).run(sockets=[sock])
"""


def start(root: Path, env: dict[str, str], name: str) -> tuple[subprocess.Popen[str], str]:
    log = (root / f"{name}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mproj.serve"], cwd=root, env=env, stdout=subprocess.PIPE, stderr=log, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip().isdigit(), (root / f"{name}.log").read_text()
    url = f"http://127.0.0.1:{int(line)}"
    deadline = time.monotonic() + STARTUP
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/health").status_code == 200:
                return process, url
        assert process.poll() is None and time.monotonic() < deadline, (root / f"{name}.log").read_text()
        time.sleep(0.05)


@pytest.fixture
def two_apps(tmp_path: Path, redis_url: str) -> Iterator[tuple[str, str]]:
    (tmp_path / "mproj").mkdir()
    for name, text in {"__init__.py": "", "app.py": APP_PY, "serve.py": SERVE_PY}.items():
        (tmp_path / "mproj" / name).write_text(text)
    prefix = f"fm-test-metrics:{uuid.uuid4().hex[:10]}"
    env = {
        key: value
        for key, value in os.environ.items()
        if (not key.startswith("FASTMANGO_") or key.startswith("FASTMANGO_TEST_"))
        and key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}
    } | {
        "FASTMANGO_ENV": "dev",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "REDIS_URL": redis_url,
        "SECRET_KEY": "s" * 64,
        "FASTMANGO_METRICS_TOKEN": TOKEN,
        "FASTMANGO_METRICS_FLUSH_SECONDS": "0.2",
        "FASTMANGO_METRICS_REDIS_PREFIX": prefix,
        "FASTMANGO_TASK_QUEUE_NAME": f"{prefix}:queue",
        "FASTMANGO_DEBUG_PANEL": "false",
    }
    processes = []
    try:
        for name in ("a", "b"):
            process, url = start(tmp_path, env, name)
            processes.append((process, url))
        yield processes[0][1], processes[1][1]
    finally:
        for process, _ in processes:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        client = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=5)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def hello_count(url: str) -> float:
    response = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    requests = parse(response.text).get("fastmango_http_requests_total", {})
    return requests.get(labels(route="/hello/{name}", method="GET", status="200"), 0.0)


def test_two_app_processes_report_the_summed_count_from_either(two_apps: tuple[str, str]) -> None:
    a, b = two_apps
    pids = {httpx.get(f"{a}/hello/x{n}").json()["pid"] for n in range(3)}
    pids |= {httpx.get(f"{b}/hello/y{n}").json()["pid"] for n in range(2)}
    assert len(pids) == 2
    deadline = time.monotonic() + 10
    while (counts := (hello_count(a), hello_count(b))) != (5, 5):  # b's deltas reach Redis within its flush
        assert time.monotonic() < deadline, counts
        time.sleep(0.1)
    response = httpx.get(a + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    processes = parse(response.text)["fastmango_process_resident_memory_bytes"]
    assert len(processes) == 2  # each worker's gauges, by process


async def test_a_redis_outage_keeps_requests_answering_and_the_metrics_recover(
    tmp_path: Path,
    redis_server: RedisServer,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = build_app(
        f"sqlite:///{tmp_path}/outage.sqlite3",
        redis_url=redis_server.url_of(0),
        redis_socket_timeout=0.5,
        metrics_flush_seconds=0.1,
        metrics_redis_prefix=f"fm-outage:{uuid.uuid4().hex[:8]}",
    )
    async with app_client(app) as client:
        await client.get("/health")
        assert (await scrape(client))["fastmango_http_requests_total"][
            labels(route="/health", method="GET", status="200")
        ] == 1
        await asyncio.to_thread(redis_server.stop)
        try:
            started = time.monotonic()
            for _ in range(5):
                assert (await client.get("/health")).status_code == 200
            assert time.monotonic() - started < 2.0  # the hot path never waits for Redis
            await asyncio.sleep(0.3)  # a flush or two fail meanwhile
            unavailable = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            assert unavailable.status_code == 503 and int(unavailable.headers["retry-after"]) > 0
        finally:
            await asyncio.to_thread(redis_server.start)
        warnings = [r for r in caplog.records if "metrics are kept" in r.getMessage()]
        assert len(warnings) == 1
        deadline = time.monotonic() + RECOVERY
        while True:
            response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert response.status_code == 200, response.text
        requests = parse(response.text)["fastmango_http_requests_total"]
        # The restarted Redis is empty (no persistence): what it holds is what this process kept meanwhile.
        assert requests[labels(route="/health", method="GET", status="200")] == 5
        assert requests[labels(route="/metrics", method="GET", status="503")] >= 1
