"""Smoke test of ``tools/bench/devtools.py``: the three variants differ in the recording only (in process, on a small
seeded PostgreSQL database of the test's own), the report's ratios come from paired rounds, and a tiny run under
wrk (1 round, 1 s, ``hello``) writes the table with the three variants. Timings are never asserted."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastmango.testing import app_client
from fastmango.testing.services import in_ci
from tools.bench import devtools
from tools.bench.http import common, harness
from tools.bench.http.load import ENDPOINTS, LoadResult

ROOT = Path(__file__).resolve().parents[2]
ROWS, AUTHORS = 45, 7


@pytest.fixture(scope="module")
def bench_database(postgres_url: str) -> Iterator[str]:
    """A database of this module's own with :data:`ROWS` books; dropped afterwards."""
    name = f"fm_bench_devtools_test_{uuid.uuid4().hex[:8]}"
    asyncio.run(devtools.on_server(postgres_url, f'CREATE DATABASE "{name}"'))
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
        asyncio.run(devtools.on_server(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.postgres
@pytest.mark.parametrize("variant", [v.key for v in devtools.VARIANTS])
async def test_variants_differ_only_in_the_recording(bench_database: str, variant: str) -> None:
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


def test_ratios_pair_the_rounds() -> None:
    def run(rps: float, cpu_us: float) -> LoadResult:
        return LoadResult(int(rps * 5), 5.0, 0, 1.0, 1.5, 3.0, 1.2, cpu_us * rps * 5 / 1e6)

    results = harness.Results()
    endpoint = ENDPOINTS[0]
    results.load[(devtools.ABSENT, endpoint.key)] = [run(1000, 400), run(500, 400)]
    results.load[(devtools.OFF, endpoint.key)] = [run(1000, 400), run(500, 400)]
    results.load[(devtools.ON, endpoint.key)] = [run(800, 500), run(450, 500)]
    plan = harness.Plan(
        devtools.server_apps(), [endpoint], rounds=2, duration=5, warmup=1, startup_samples=1, pin=False, python="p"
    )
    markdown = devtools.document(plan, results, "a test machine", "python -m tools.bench.devtools", ["a note"])
    rows = [line.split(" | ") for line in markdown.splitlines() if line.startswith(("| plugin absent", "| o"))]
    assert [row[1:3] for row in rows] == [["750", "1"], ["750", "1.000 (1.000-1.000)"], ["625", "0.850 (0.800-0.900)"]]
    assert "recording adds +100 us CPU per request; off/absent 1.000 (1.000-1.000) req/s, +0 us" in markdown
    assert "- a note" in markdown and "- a test machine" in markdown


@pytest.mark.postgres
def test_a_tiny_run_reports_the_three_variants(postgres_url: str, tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        message = "wrk is not installed (apt-get install -y wrk)"
        if in_ci():
            pytest.fail(f"{message}; CI=true: the benchmark's test fails instead of skipping", pytrace=False)
        pytest.skip(message)
    output = tmp_path / "results.md"
    database = f"fm_bench_http_devtools_test_{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "tools.bench.devtools", "--rounds", "1", "--duration", "1", "--warmup", "1"]
    command += ["--endpoints", "hello", "--postgres-url", postgres_url, "--database", database, "--no-pin"]
    command += ["--python", sys.executable, "--loop", "auto", "--http", "auto", "--output", str(output)]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    rows = [line for line in completed.stdout.splitlines() if line.startswith(("| plugin absent", "| off", "| on"))]
    assert [row.split(" | ")[0] for row in rows] == [f"| {variant.label}" for variant in devtools.VARIANTS]
    assert all(float(row.split(" | ")[1].replace(",", "")) > 0 for row in rows), rows
    assert output.read_text() == completed.stdout
