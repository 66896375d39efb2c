"""Smoke test of the HTTP benchmark (tools/bench/http) without Django or wrk: the fastmango, FastAPI +
SQLAlchemy and floor apps answer every probe right over httpx's ASGI transport, on a small seeded PostgreSQL
database of the test's own; the report renders from made-up results. Timings are never asserted."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fastmango.testing import app_client
from tools.bench.http import checks, common, report
from tools.bench.http.harness import Plan, Results
from tools.bench.http.load import ENDPOINTS, LoadResult
from tools.bench.http.servers import APPS

ROWS, AUTHORS = 45, 7


async def _on_server(url: str, *statements: str, seed: bool = False) -> None:
    import asyncpg

    conn = await asyncpg.connect(common.plain_dsn(url))
    try:
        for statement in statements:
            await conn.execute(statement)
        if seed:
            await common.create_schema(conn)
            await common.seed(conn, rows=ROWS, authors=AUTHORS)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def bench_database(postgres_url: str) -> Iterator[str]:
    """A database of this module's own, seeded with :data:`ROWS` books; dropped afterwards."""
    name = f"fm_bench_http_test_{uuid.uuid4().hex[:8]}"
    asyncio.run(_on_server(postgres_url, f'CREATE DATABASE "{name}"'))
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        asyncio.run(_on_server(url, seed=True))
        yield url
    finally:
        asyncio.run(_on_server(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _fastmango(url: str) -> Any:
    from tools.bench.http.app_fastmango import create_app

    return create_app(url, pool_size=2, configure_logging=False)


def _sqlalchemy(url: str) -> Any:
    from tools.bench.http.app_sqlalchemy import create_app

    return create_app(url, pool_size=2)


def _floor(url: str) -> Any:
    from tools.bench.http.app_floor import create_app

    return create_app(url, pool_size=2)


@pytest.mark.postgres
@pytest.mark.parametrize("factory", [_fastmango, _sqlalchemy, _floor], ids=["fastmango", "sqlalchemy", "floor"])
async def test_app_answers_every_probe(bench_database: str, factory: Callable[[str], Any]) -> None:
    problems = []
    async with app_client(factory(bench_database)) as client:
        for probe in checks.probes(rows=ROWS, authors=AUTHORS):
            response = await client.request(probe.method, probe.path, json=probe.body)
            problem = probe.check(response.status_code, checks.parse(response.content))
            if problem is not None:
                problems.append(f"{probe.name}: {problem}")
    await _on_server(bench_database, f"DELETE FROM {common.BOOK_TABLE} WHERE id > {ROWS}")
    assert problems == []


def test_probes_know_the_seed() -> None:
    assert checks.expected_book(1, AUTHORS) == {
        "id": 1,
        "title": "Book 1",
        "pages": 87,
        "published": "2000-01-12",
        "author_id": 2,
        "author": {"id": 2, "name": "Author 2"},
    }
    listing = next(p for p in checks.probes(rows=ROWS, authors=AUTHORS) if p.path == "/books")
    page = {
        "items": [checks.expected_book(i, AUTHORS) for i in range(1, 21)],
        "next": "eyJhZnRlciI6IDIwfQ",
        "limit": 20,
    }
    assert listing.check(200, json.loads(json.dumps(page))) is None
    assert listing.check(200, {**page, "limit": 10}) is not None


def test_every_endpoint_script_reports_json() -> None:
    for endpoint in ENDPOINTS:
        script = endpoint.lua()
        assert "BENCH_JSON" in script and "done = function" in script


def test_report_renders_ratios_and_goals() -> None:
    def run(rps: float, cpu_us: float) -> LoadResult:
        return LoadResult(int(rps * 5), 5.0, 0, 16 / rps * 1000, 0, 40 / rps * 1000, 0, cpu_us * rps * 5 / 1e6)

    speed = {"fastmango": 1000.0, "sqlalchemy": 800.0, "drf": 700.0, "ninja": 300.0, "floor": 2500.0}
    results = Results()
    for app in APPS:
        for endpoint in ENDPOINTS:
            results.load[(app.key, endpoint.key)] = [run(speed[app.key], 1e6 / speed[app.key])] * 2
        results.startup[app.key] = [0.5, 0.6]
        results.rss_idle[app.key] = [70.0 if app.key == "fastmango" else 60.0]
        results.rss_loaded[app.key] = [80.0]
    plan = Plan(APPS, ENDPOINTS, rounds=2, duration=5, warmup=2, startup_samples=2, pin=True, python="python")
    markdown = report.document(plan, results, "a test machine", "python -m tools.bench.http")
    fastmango_rows = [line for line in markdown.splitlines() if line.startswith("| **fastmango")]
    assert len(fastmango_rows) == len(ENDPOINTS)
    assert fastmango_rows[0].split(" | ")[1:4] == ["1,000", "0.40", "1.25"]
    assert "| get: at least 0.5x the floor's req/s | 0.40x req/s (0.40x by CPU time per request) | NO |" in markdown
    assert "| get: never below FastAPI + SQLAlchemy | 1.25x req/s (1.25x by CPU time per request) | yes |" in markdown
    assert "| start-up to first response under 1 s (prod) | 0.55 s | yes |" in markdown
    assert "| idle RSS within 10% of FastAPI + SQLAlchemy | 70.0 vs 60.0 MiB (+16.7%) | NO |" in markdown
