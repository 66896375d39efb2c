"""Smoke test of the HTTP benchmark (tools/bench/http) without Django or wrk: the fastmango, FastAPI +
SQLAlchemy and floor apps answer every probe right over httpx's ASGI transport, on a small seeded PostgreSQL
database of the test's own (fastmango's admin phase too, on a ``benchentry`` just past the admin's exact count);
the report renders from made-up results. Timings are never asserted."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fastmango.testing import app_client
from tools.bench.http import admin_list, checks, common, report, statements
from tools.bench.http.harness import Plan, Results
from tools.bench.http.load import ENDPOINTS, Endpoint, LoadResult
from tools.bench.http.servers import APPS

ROWS, AUTHORS = 45, 7
#: benchentry's rows here: past the admin's exact count, so that its total is the estimate.
ENTRY_ROWS = checks.ADMIN_COUNT_LIMIT + 2_000


async def _on_server(url: str, *statements: str, seed: bool = False) -> None:
    import asyncpg

    conn = await asyncpg.connect(common.plain_dsn(url))
    try:
        for statement in statements:
            await conn.execute(statement)
        if seed:
            await common.create_schema(conn)
            await common.seed(conn, rows=ROWS, authors=AUTHORS)
            await common.create_entries(conn, rows=ENTRY_ROWS)
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
        asyncio.run(admin_list.create_staff(url))
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


@pytest.mark.postgres
async def test_fastmango_answers_the_admin_phase_and_reports_its_statements(bench_database: str) -> None:
    async with app_client(_fastmango(bench_database)) as client:
        form = {"username": common.STAFF_USERNAME, "password": common.STAFF_PASSWORD}
        token = (await client.post("/auth/token", data=form)).json()["access_token"]
        headers = admin_list.authorization(token)
        problems = []
        for probe in checks.entry_probes(ENTRY_ROWS, admin_list.FIRST_PAGE_PATH, token):
            response = await client.request(probe.method, probe.path, headers=probe.headers)
            problem = probe.check(response.status_code, checks.parse(response.content))
            if problem is not None:
                problems.append(f"{probe.name}: {problem}")
        path = admin_list.FIRST_PAGE_PATH
        for page in range(3):  # the keyset pages following the first, newest first
            response = await client.get(path, headers=headers)
            problem = checks.admin_page_check(ENTRY_ROWS, page)(response.status_code, response.json())
            if problem is not None:
                problems.append(f"page {page}: {problem}")
            path = f"{admin_list.FIRST_PAGE_PATH}&cursor={response.json()['next']}"
        recorded = {}
        for target in (admin_list.FIRST_PAGE_PATH, f"{common.ENTRIES_PATH}?offset=100"):
            assert (await client.post(statements.PATH)).status_code == 200
            assert (await client.get(target, headers=headers)).status_code == 200
            recorded[target] = (await client.get(statements.PATH)).json()
        after = await client.get("/hello")  # nothing is recorded once read
        assert after.status_code == 200 and (await client.get(statements.PATH)).json() == []
    assert problems == []
    admin_sql, crud_sql = recorded.values()
    assert any(f"FROM {common.ENTRY_TABLE} ORDER BY" in sql for sql in admin_sql)
    assert statements.counts(crud_sql) == [f"SELECT count(*) AS count_1 FROM {common.ENTRY_TABLE}"]
    assert not any(statements.is_capped_count(sql) for sql in crud_sql)


def test_counts_are_told_from_the_sql() -> None:
    capped = "SELECT count(*) AS count_1 FROM (SELECT benchentry.id AS id FROM benchentry LIMIT $1) AS anon_1"
    assert statements.is_count(capped) and statements.is_capped_count(capped)
    assert statements.is_count("SELECT COUNT (*) FROM benchentry")
    assert not statements.is_capped_count("SELECT count(*) FROM benchentry")
    assert not statements.is_count("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass($1)")
    assert not statements.is_count("SELECT benchentry.account FROM benchentry LIMIT $1")


def test_admin_checks_know_the_estimate() -> None:
    rows = 100_000
    first = [{**checks.expected_entry(pk), "_label": f"Entry {pk}"} for pk in range(rows, rows - 20, -1)]
    page = {"items": first, "next": "x", "previous": None, "total": 99_870, "total_is_estimate": True}
    check = checks.admin_page_check(rows, 0)
    assert check(200, page) is None
    assert check(200, {**page, "total_is_estimate": False}) is not None
    assert check(200, {**page, "total": 50_000}) is not None
    assert check(200, {**page, "previous": "y"}) is not None
    small = checks.admin_page_check(30, 1)
    rest = [{**checks.expected_entry(pk), "_label": f"Entry {pk}"} for pk in range(10, 0, -1)]
    assert small(200, {"items": rest, "next": None, "previous": "p", "total": 30, "total_is_estimate": False}) is None


def test_headers_go_into_the_wrk_script() -> None:
    endpoint = Endpoint("x", "x", database=True, path="/a?b=1", headers=(("Authorization", "Bearer t.k-n"),))
    script = endpoint.lua()
    assert 'wrk.headers["Authorization"] = "Bearer t.k-n"' in script and 'wrk.path = "/a?b=1"' in script


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
    assert "### Admin list on" not in markdown and "| admin list of a" not in markdown  # no admin phase ran


def _admin_results(admin_sql: list[str]) -> Results:
    results = Results()
    auth = "SELECT auth_user.id FROM auth_user WHERE auth_user.id = $1::INTEGER"
    crud = ["SELECT benchentry.id FROM benchentry LIMIT $1 OFFSET $2", "SELECT count(*) AS count_1 FROM benchentry"]
    for key, sql, total in (
        (admin_list.FIRST, admin_sql, (100_000, True)),
        (admin_list.KEYSET, admin_sql, (100_000, True)),
        (admin_list.CRUD, crud, (100_000, None)),
    ):
        results.admin_load[key] = [LoadResult(5000, 5.0, 0, 3.0, 4.0, 6.0, 3.1, 2.5)] * 2
        results.admin_reads[key] = admin_list.Read(f"/{key}", 200, [auth, *sql], *total)
    return results


def test_report_shows_the_admin_phase_and_its_goal() -> None:
    plan = Plan(APPS[:1], ENDPOINTS[:1], rounds=1, duration=5, warmup=1, startup_samples=1, pin=False, python="p")
    capped = "SELECT count(*) AS count_1 FROM (SELECT benchentry.id AS id FROM benchentry LIMIT $1) AS anon_1"
    listed = "SELECT benchentry.id FROM benchentry ORDER BY benchentry.id DESC LIMIT $1"
    reltuples = "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass($1)"
    markdown = report.document(plan, _admin_results([listed, capped, reltuples]), "m", "c")
    assert "### Admin list on a 100,000-row table" in markdown
    first_row = next(line for line in markdown.splitlines() if line.startswith("| admin list, first page"))
    assert first_row.removesuffix(" |").split(" | ")[1:9] == [
        "1,000",
        "500",
        "3.00",
        "6.00",
        "0%",
        "4",
        "1 COUNT (capped: over a LIMIT subquery)",
        "`total` 100,000, `total_is_estimate` true",
    ]
    assert f"3. `{capped}` **(COUNT)**" in markdown
    goal = next(line for line in markdown.splitlines() if line.startswith("| admin list of a"))
    assert goal.startswith("| admin list of a 100,000-row table: no COUNT | first page: 1 COUNT (capped")
    assert goal.endswith("| NO |") and "CRUD offset page: 1 COUNT (the statements" in goal
    fixed = report.document(plan, _admin_results([listed, reltuples]), "m", "c")
    goal = next(line for line in fixed.splitlines() if line.startswith("| admin list of a"))
    assert "first page: no COUNT; keyset page: no COUNT; CRUD offset page: 1 COUNT" in goal
    assert goal.endswith("| yes |")
