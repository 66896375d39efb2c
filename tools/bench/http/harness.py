"""The run: a database of its own, the checks, start-up times, rounds of load with the apps interleaved, then
fastmango's admin phase (:mod:`admin_list`)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from tools.bench import plan_cache
from tools.bench.http import admin_list, checks, common
from tools.bench.http.load import Endpoint, LoadResult, Wrk
from tools.bench.http.servers import App, Server, http_get, request
from tools.bench.orm_pinning import pin_backends

Log = Callable[[str], None]

DATABASE_NAME = "fm_bench_http"
FASTMANGO = "fastmango"
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Plan:
    """What to run.

    Attributes:
        apps / endpoints: What to measure, in the report's order.
        rounds: Times every app is loaded on every endpoint (A B C D E, A B C D E, ...); medians are kept.
        duration / warmup: Seconds of each measured wrk run, and of the unmeasured run before it.
        startup_samples: Starts of each app timed to its first 200 (interleaved too).
        pin: Pin the app to CPU 0, wrk and PostgreSQL's backends to CPU 1.
        python: The interpreter of the bench venv that runs the apps.
        server_url: A database on the PostgreSQL server, used to create and drop :data:`DATABASE_NAME`.
        log_dir: Where the apps' stdout/stderr go (None: discarded).
        admin_rounds: Rounds of the admin phase (fastmango only; 0: none).
        startup: Whether the start-up phase runs.
    """

    apps: Sequence[App]
    endpoints: Sequence[Endpoint]
    rounds: int
    duration: float
    warmup: float
    startup_samples: int
    pin: bool
    python: str
    server_url: str = DEFAULT_SERVER_URL
    log_dir: Path | None = None
    admin_rounds: int = admin_list.ROUNDS
    startup: bool = True

    def estimate_seconds(self) -> float:
        per_app = 2.5 + len(self.endpoints) * (self.duration + self.warmup + 0.6)
        startups = self.startup_samples * 1.2 if self.startup else 0
        admin = self.admin_rounds * (2.5 + len(admin_list.VARIANTS) * (self.duration + self.warmup + 0.6))
        return len(self.apps) * (self.rounds * per_app + startups + 2) + (admin if self.has_admin_phase else 0)

    @property
    def has_admin_phase(self) -> bool:
        return self.admin_rounds > 0 and any(app.key == FASTMANGO for app in self.apps)


@dataclass
class Results:
    """Everything measured; lists hold one value per round (or start-up sample)."""

    load: dict[tuple[str, str], list[LoadResult]] = field(default_factory=dict)
    startup: dict[str, list[float]] = field(default_factory=dict)
    rss_idle: dict[str, list[float]] = field(default_factory=dict)
    rss_loaded: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: fastmango's plan-cache counters after each round's load (None: no plan cache in that fastmango).
    plan_cache: list[dict[str, float] | None] = field(default_factory=list)
    #: The admin phase: wrk's runs per variant (:data:`admin_list.VARIANTS`), and one request of each read once.
    admin_load: dict[str, list[LoadResult]] = field(default_factory=dict)
    admin_reads: dict[str, admin_list.Read] = field(default_factory=dict)
    server_version: str = ""
    load_average: list[tuple[str, tuple[float, float, float]]] = field(default_factory=list)
    seconds: float = 0.0

    def record_load_average(self, moment: str) -> None:
        self.load_average.append((moment, os.getloadavg()))


class CheckFailed(RuntimeError):
    """An app answered a probe wrongly; nothing is timed."""


# -- the database ---------------------------------------------------------------------------------------
def _dsn(url: str) -> str:
    return make_url(common.plain_dsn(url)).render_as_string(hide_password=False)


async def _admin(server_url: str, *statements: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(_dsn(server_url))
    try:
        for statement in statements:
            await conn.execute(statement)
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def _prepare(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_dsn(url))
    try:
        await common.create_schema(conn)
        await common.seed(conn)
        await common.create_entries(conn)
    finally:
        await conn.close()
    await admin_list.create_staff(url)


async def _reset(url: str) -> int:
    """Remove the rows the create endpoint added, and vacuum, so every app meets the same table."""
    import asyncpg

    conn = await asyncpg.connect(_dsn(url))
    try:
        removed = await common.delete_created(conn)
        await conn.execute(f"VACUUM ANALYZE {common.BOOK_TABLE}")
        return removed
    finally:
        await conn.close()


async def backend_pids(url: str) -> list[int]:
    import asyncpg

    conn = await asyncpg.connect(_dsn(url))
    try:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        rows = await conn.fetch(query)
        return [row["pid"] for row in rows]
    finally:
        await conn.close()


@contextmanager
def bench_database(server_url: str, results: Results, log: Log) -> Iterator[str]:
    """:data:`DATABASE_NAME` created (dropped first if a previous run left it), seeded, and dropped after."""
    drop = f'DROP DATABASE IF EXISTS "{DATABASE_NAME}" WITH (FORCE)'
    results.server_version = asyncio.run(_admin(server_url, drop, f'CREATE DATABASE "{DATABASE_NAME}"'))
    url = str(make_url(_dsn(server_url)).set(database=DATABASE_NAME).render_as_string(hide_password=False))
    try:
        asyncio.run(_prepare(url))
        log(
            f"seeded {DATABASE_NAME}: {common.ROWS:,} books of {common.AUTHORS} authors, "
            f"{common.ENTRY_ROWS:,} entries (the admin phase's), staff user {common.STAFF_USERNAME}"
        )
        yield url
    finally:
        asyncio.run(_admin(server_url, drop))


def pin_database(url: str) -> str:
    """Pin the backends serving the benchmark's database to CPU 1; a sentence saying what was pinned."""
    return pin_backends(asyncio.run(backend_pids(url)), DATABASE_NAME)


# -- the phases -----------------------------------------------------------------------------------------
def _server(plan: Plan, app: App, url: str) -> Server:
    log_path = plan.log_dir / f"{app.key}.log" if plan.log_dir is not None else None
    return Server(app, plan.python, url, pin=plan.pin, log=log_path)


def check_apps(plan: Plan, url: str, log: Log) -> None:
    """Every app answers every probe right (see :mod:`checks`).

    Raises:
        CheckFailed: naming the app, the request and what was wrong.
    """
    for app in plan.apps:
        with _server(plan, app, url) as server:
            server.wait_ready()
            problems = _problems(server.port, checks.probes())
            if app.key == FASTMANGO and plan.has_admin_phase:
                problems += _admin_problems(server.port)
        asyncio.run(_reset(url))
        if problems:
            raise CheckFailed(f"{app.label} answered wrongly:\n  " + "\n  ".join(problems))
        log(f"checked {app.key}: every probe answered right")


def _problems(port: int, probes: Sequence[checks.Probe]) -> list[str]:
    problems = []
    for probe in probes:
        status, body = request(port, probe.method, probe.path, probe.body, probe.headers)
        problem = probe.check(status, checks.parse(body))
        if problem is not None:
            problems.append(f"{probe.name}: {problem}")
    return problems


def _admin_problems(port: int) -> list[str]:
    """The admin phase's probes (the staff login, the admin's first page, the CRUD offset page) and the pages
    followed to the keyset cursor."""
    try:
        token = admin_list.login(port)
        problems = _problems(port, checks.entry_probes(common.ENTRY_ROWS, admin_list.FIRST_PAGE_PATH, token))
        admin_list.follow(port, token)
    except admin_list.PhaseFailed as exc:
        return [str(exc)]
    return problems


def time_startups(plan: Plan, url: str, results: Results, log: Log) -> None:
    """Start each app ``startup_samples`` times (interleaved): seconds to the first 200 on /health, and the
    RSS once it has answered and sat idle for a moment."""
    for sample in range(plan.startup_samples):
        for app in plan.apps:
            with _server(plan, app, url) as server:
                results.startup.setdefault(app.key, []).append(server.wait_ready())
                time.sleep(0.3)
                results.rss_idle.setdefault(app.key, []).append(server.rss_mib())
        log(f"start-up sample {sample + 1}/{plan.startup_samples}")


def load_rounds(plan: Plan, url: str, results: Results, log: Log) -> None:
    """``rounds`` times: each app in turn is started, loaded on every endpoint (warm-up, then measured), its RSS
    read, and stopped."""
    if not plan.endpoints:
        return
    wrk = Wrk(pin=plan.pin)
    pinned_note = ""
    try:
        for round_number in range(1, plan.rounds + 1):
            for app in plan.apps:
                with _server(plan, app, url) as server:
                    server.wait_ready()
                    for endpoint in plan.endpoints:
                        wrk.run(server.port, endpoint, plan.warmup)
                        if plan.pin:
                            pinned_note = pin_database(url)
                        cpu_before = server.cpu_seconds()
                        result = wrk.run(server.port, endpoint, plan.duration)
                        result = dataclasses.replace(result, cpu_seconds=server.cpu_seconds() - cpu_before)
                        results.load.setdefault((app.key, endpoint.key), []).append(result)
                        if endpoint.key == "create":
                            asyncio.run(_reset(url))
                        log(
                            f"round {round_number}/{plan.rounds} {app.key:10} {endpoint.key:6} "
                            f"{result.rps:8.0f} req/s  {result.cpu_us_per_request:6.0f} us CPU/req  "
                            f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
                            + (f"  {result.errors} errors" if result.errors else "")
                        )
                    results.rss_loaded.setdefault(app.key, []).append(server.rss_mib())
                    if app.key == FASTMANGO:
                        results.plan_cache.append(read_plan_cache(server.port))
    finally:
        wrk.close()
    if pinned_note:
        results.notes.append(pinned_note)


def admin_rounds(plan: Plan, url: str, results: Results, log: Log) -> None:
    """fastmango's admin phase, ``admin_rounds`` times in a fresh process: log in, follow ``next`` to the keyset
    page, load each variant (warm-up, then measured, as :func:`load_rounds`). In the first round, before any
    load, the statements one request of each variant runs are read (after one unrecorded request of it).

    Raises:
        CheckFailed: the app answered the phase's requests wrongly.
    """
    app = next(app for app in plan.apps if app.key == FASTMANGO)
    wrk = Wrk(pin=plan.pin)
    try:
        for round_number in range(1, plan.admin_rounds + 1):
            with _server(plan, app, url) as server:
                server.wait_ready()
                try:
                    token = admin_list.login(server.port)
                    keyset_path = admin_list.follow(server.port, token)
                except admin_list.PhaseFailed as exc:
                    raise CheckFailed(f"admin phase: {exc}") from None
                variants = admin_list.endpoints(token, keyset_path)
                for endpoint in variants if not results.admin_reads else ():
                    # before any load: requests wrk leaves in flight would still be running their statements
                    results.admin_reads[endpoint.key] = admin_list.read(server.port, token, endpoint.path)
                for endpoint in variants:
                    wrk.run(server.port, endpoint, plan.warmup)
                    if plan.pin:
                        pin_database(url)
                    cpu_before = server.cpu_seconds()
                    result = wrk.run(server.port, endpoint, plan.duration)
                    result = dataclasses.replace(result, cpu_seconds=server.cpu_seconds() - cpu_before)
                    results.admin_load.setdefault(endpoint.key, []).append(result)
                    counted = len(results.admin_reads[endpoint.key].counts)
                    log(
                        f"admin round {round_number}/{plan.admin_rounds} {endpoint.key:12} {result.rps:8.0f} req/s  "
                        f"{result.cpu_us_per_request:6.0f} us CPU/req  p50 {result.p50_ms:6.2f} ms  "
                        f"p99 {result.p99_ms:6.2f} ms  {counted} COUNT"
                        + (f"  {result.errors} errors" if result.errors else "")
                    )
    finally:
        wrk.close()


def read_plan_cache(port: int) -> dict[str, float] | None:
    """The fastmango app's plan-cache counters (:func:`tools.bench.plan_cache.read_plan_cache_stats` in the
    server process, answered on :data:`tools.bench.plan_cache.STATS_PATH`); None when it has no plan cache."""
    status, body = http_get(port, plan_cache.STATS_PATH, timeout=10)
    data = json.loads(body) if status == 200 else None
    return data if isinstance(data, dict) else None


def run(plan: Plan, log: Log) -> Results:
    """The whole benchmark."""
    results = Results()
    started = time.perf_counter()
    results.record_load_average("start")
    with bench_database(plan.server_url, results, log) as url:
        check_apps(plan, url, log)
        if plan.startup:
            time_startups(plan, url, results, log)
            results.record_load_average("after the start-up phase")
        load_rounds(plan, url, results, log)
        if plan.has_admin_phase:
            admin_rounds(plan, url, results, log)
    results.record_load_average("end")
    results.seconds = time.perf_counter() - started
    return results


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
