"""Smoke test of the overhead benchmark (``tools/bench/overhead.py``) and its two suites, ``devtools``
(``tools/bench/devtools.py``) and ``monitoring`` (``tools/bench/monitoring.py``): each suite's variants are what they
say (in process, on a small seeded PostgreSQL database of the test's own), the pre-timing check refuses a server that
is another variant than it claims, the report's ratios come from paired rounds and the verdict follows the 5% goal,
and a tiny run of each suite under wrk (1 round, 1 s, ``hello``) writes the table with every variant. Timings are
never asserted."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastmango.testing import app_client
from fastmango.testing.services import in_ci
from tools.bench import devtools, monitoring, overhead
from tools.bench.http import common, harness
from tools.bench.http.load import ENDPOINTS, LoadResult
from tools.bench.http.servers import App, Server

ROOT = Path(__file__).resolve().parents[2]
ROWS, AUTHORS = 45, 7
TOKEN = {"Authorization": f"Bearer {monitoring.METRICS_TOKEN}"}


@pytest.fixture(scope="module")
def bench_database(postgres_url: str) -> Iterator[str]:
    """A database of this module's own with :data:`ROWS` books; dropped afterwards."""
    name = f"fm_bench_http_overhead_test_{uuid.uuid4().hex[:8]}"
    asyncio.run(overhead.on_server(postgres_url, f'CREATE DATABASE "{name}"'))
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"

    async def seed() -> None:
        import asyncpg

        conn = await asyncpg.connect(common.plain_dsn(url))
        try:
            await common.create_schema(conn)
            await common.seed(conn, rows=ROWS, authors=AUTHORS)
        finally:
            await conn.close()

    try:
        asyncio.run(seed())
        yield url
    finally:
        asyncio.run(overhead.on_server(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _needs_wrk() -> None:
    if shutil.which("wrk") is None:
        message = "wrk is not installed (apt-get install -y wrk)"
        if in_ci():
            pytest.fail(f"{message}; CI=true: the benchmark's test fails instead of skipping", pytrace=False)
        pytest.skip(message)


# -- the variants, in process ------------------------------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.parametrize("variant", [v.key for v in devtools.VARIANTS])
async def test_devtools_variants_differ_only_in_the_recording(bench_database: str, variant: str) -> None:
    app = devtools.create_app(bench_database, pool_size=2, variant=variant, configure_logging=False)
    async with app_client(app) as client:
        hello, books = await client.get("/hello"), await client.get("/books")
        store = getattr(app.state, "debug_store", None)
        records = await store.recent(10) if store is not None else []
    assert hello.json() == common.HELLO
    assert [item["author"]["id"] for item in books.json()["items"]][:3] == [2, 3, 4]
    for response in (hello, books):
        assert "server-timing" in response.headers
        assert ("x-debug-record" in response.headers) == (variant == devtools.ON)
    if variant == devtools.ON:
        listed = next(record for record in records if record.name == "GET /books")
        assert [query["rows"] for query in listed.queries] == [common.LIST_LIMIT + 1]
    else:
        assert records == []


@pytest.mark.postgres
@pytest.mark.parametrize("variant", [monitoring.ABSENT, monitoring.OFF, monitoring.METRICS, monitoring.ALL])
async def test_monitoring_variants_differ_in_metrics_and_the_log_stream(
    bench_database: str, variant: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fastmango.request")  # LOG_LEVEL=INFO, as the prod server runs
    app = monitoring.create_app(bench_database, pool_size=2, variant=variant, configure_logging=False)
    async with app_client(app) as client:
        hello, books = await client.get("/hello"), await client.get("/books")
        scraped, anonymous = await client.get("/metrics", headers=TOKEN), await client.get("/metrics")
        logs = await client.get(monitoring.LOGS_RECENT)
        stream = getattr(app.state, "logstream", None)
        streamed = [entry["message"] for entry in stream.recent] if stream is not None else []
    assert hello.json() == common.HELLO
    assert len(books.json()["items"]) == common.LIST_LIMIT
    for response in (hello, books):
        assert "server-timing" not in response.headers and "x-debug-record" not in response.headers
    if variant in (monitoring.METRICS, monitoring.ALL):
        assert scraped.status_code == 200 and anonymous.status_code == 401
        assert 'fastmango_http_requests_total{method="GET",route="/hello",status="200"} 1.0' in scraped.text
    else:
        assert (scraped.status_code, anonymous.status_code) == (404, 404)
    assert logs.status_code == (401 if variant == monitoring.ALL else 404)
    # Only the defaults run the log stream; at its default level (WARNING) the INFO request lines pass it by.
    assert (stream is not None) == (variant == monitoring.ALL)
    assert not any(message.startswith("GET /hello 200") for message in streamed)


@pytest.mark.postgres
async def test_monitoring_with_redis_flushes_the_metrics_there(bench_database: str, redis_url: str) -> None:
    from fastmango.monitoring.store import RedisStore

    app = monitoring.create_app(
        bench_database, pool_size=2, variant=monitoring.METRICS_REDIS, configure_logging=False, redis_url=redis_url
    )
    async with app_client(app) as client:
        await client.get("/hello")
        scraped = await client.get("/metrics", headers=TOKEN)
    assert isinstance(app.state.monitor.store, RedisStore)
    assert scraped.status_code == 200 and 'route="/hello"' in scraped.text
    assert monitoring._redis_keys(redis_url) > 0


# -- the pre-timing check, on a server ---------------------------------------------------------------------------
@pytest.mark.postgres
def test_the_check_refuses_a_server_that_is_another_variant(bench_database: str) -> None:
    apps = {app.key: app for app in monitoring.server_apps(loop="auto", http_impl="auto")}
    off_claiming_all = App(monitoring.ALL, "all", "uvicorn", apps[monitoring.OFF].argv, apps[monitoring.OFF].env)
    with Server(off_claiming_all, sys.executable, bench_database, pin=False) as server:
        server.wait_ready()
        found = overhead.problems(monitoring.SUITE, off_claiming_all, server.port)
        assert overhead.problems(monitoring.SUITE, apps[monitoring.OFF], server.port) == []
    assert [problem.split(" answered")[0] for problem in found] == [
        "GET /metrics with the token",
        "GET /metrics without the token",
        f"GET {monitoring.LOGS_RECENT}",
    ]


# -- the report --------------------------------------------------------------------------------------------------
def _run(rps: float, cpu_us: float) -> LoadResult:
    return LoadResult(int(rps * 5), 5.0, 0, 1.0, 1.5, 3.0, 1.2, cpu_us * rps * 5 / 1e6)


def _plan(apps: list[App]) -> harness.Plan:
    return harness.Plan(apps, [ENDPOINTS[0]], rounds=2, duration=5, warmup=1, startup_samples=1, pin=False, python="p")


def test_devtools_ratios_pair_the_rounds() -> None:
    results = harness.Results()
    key = ENDPOINTS[0].key
    results.load[(devtools.ABSENT, key)] = [_run(1000, 400), _run(500, 400)]
    results.load[(devtools.OFF, key)] = [_run(1000, 400), _run(500, 400)]
    results.load[(devtools.ON, key)] = [_run(800, 500), _run(450, 500)]
    plan = _plan(devtools.server_apps())
    markdown = overhead.document(devtools.SUITE, plan, results, "a test machine", "python -m x", ["a note"])
    rows = [line.split(" | ") for line in markdown.splitlines() if line.startswith(("| plugin absent", "| o"))]
    assert [row[1:3] for row in rows] == [["750", "1"], ["750", "1.000 (1.000-1.000)"], ["625", "0.850 (0.800-0.900)"]]
    assert "recording adds +100 us CPU per request; off/absent 1.000 (1.000-1.000) req/s, +0 us" in markdown
    assert "- a note" in markdown and "- a test machine" in markdown
    assert markdown.startswith("# Developer tools: the cost of recording\n")


def test_monitoring_verdict_follows_the_five_percent_goal() -> None:
    results = harness.Results()
    key = ENDPOINTS[0].key
    results.load[(monitoring.ABSENT, key)] = [_run(1000, 400), _run(1000, 400)]
    results.load[(monitoring.OFF, key)] = [_run(1000, 400), _run(1000, 400)]
    results.load[(monitoring.METRICS, key)] = [_run(980, 410), _run(960, 410)]
    results.load[(monitoring.ALL, key)] = [_run(940, 430), _run(920, 430)]
    plan = _plan(monitoring.server_apps())
    markdown = overhead.document(monitoring.SUITE, plan, results, "a test machine", "python -m x")
    assert [app.key for app in plan.apps] == ["absent", "off", "metrics", "all"]
    verdict = next(line for line in markdown.splitlines() if line.startswith(f"- `{key}`: "))
    assert verdict.startswith(f"- `{key}`: misses the goal (under 5% of req/s): metrics 3.0% of req/s")
    assert "all 7.0% of req/s (all/absent 0.930 (0.920-0.940), 2 of 2 rounds at 0.95 or below), +30 us" in verdict
    results.load[(monitoring.ALL, key)] = [_run(990, 405), _run(970, 405)]
    markdown = overhead.document(monitoring.SUITE, plan, results, "a test machine", "python -m x")
    assert f"- `{key}`: meets the goal (under 5% of req/s): metrics 3.0%" in markdown


# -- tiny runs under wrk -----------------------------------------------------------------------------------------
def _tiny_run(module: str, postgres_url: str, output: Path, *extra: str) -> str:
    database = f"fm_bench_http_overhead_run_{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", module, "--rounds", "1", "--duration", "1", "--warmup", "1"]
    command += ["--endpoints", "hello", "--postgres-url", postgres_url, "--database", database, "--no-pin"]
    command += ["--python", sys.executable, "--loop", "auto", "--http", "auto", "--output", str(output), *extra]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert output.read_text() == completed.stdout
    return completed.stdout


def _rows(markdown: str, variants: tuple[overhead.Variant, ...]) -> list[str]:
    labels = tuple(f"| {variant.label} |" for variant in variants)
    rows = [line for line in markdown.splitlines() if line.startswith(labels)]
    assert all(float(row.split(" | ")[1].replace(",", "")) > 0 for row in rows), rows
    return [row.split(" | ")[0] for row in rows]


@pytest.mark.postgres
def test_a_tiny_devtools_run_reports_the_three_variants(postgres_url: str, tmp_path: Path) -> None:
    _needs_wrk()
    markdown = _tiny_run("tools.bench.devtools", postgres_url, tmp_path / "results.md")
    assert _rows(markdown, devtools.VARIANTS) == [f"| {variant.label}" for variant in devtools.VARIANTS]


@pytest.mark.postgres
def test_a_tiny_monitoring_run_reports_every_variant_and_a_verdict(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    _needs_wrk()
    extra = ("--suite", "monitoring", "--redis-url", redis_url)
    markdown = _tiny_run("tools.bench.overhead", postgres_url, tmp_path / "results.md", *extra)
    assert _rows(markdown, monitoring.VARIANTS) == [f"| {variant.label}" for variant in monitoring.VARIANTS]
    assert markdown.startswith("# Monitoring: the cost of metrics and the live log stream\n")
    verdicts = [line for line in markdown.splitlines() if line.startswith("- `hello`: m")]
    assert len(verdicts) == 1 and "the goal (under 5% of req/s): metrics " in verdicts[0], verdicts
