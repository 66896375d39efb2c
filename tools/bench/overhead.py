"""What one layer of fastmango costs a request: a small app served a few ways (a suite's variants), loaded with wrk.

    .venv/bin/python -m tools.bench.overhead --suite devtools --output tools/bench/DEVTOOLS_RESULTS.md
    .venv/bin/python -m tools.bench.overhead --suite monitoring --output tools/bench/MONITORING_RESULTS.md
    .venv/bin/python -m tools.bench.overhead --suite monitoring --rounds 1 --duration 1 --endpoints hello  # smoke

A suite (:class:`Suite`) names its variants, the settings they share, what each must answer before timing and
the report's wording: ``devtools`` (:mod:`tools.bench.devtools`, the debug panel's recording) and ``monitoring``
(:mod:`tools.bench.monitoring`, metrics and the live log stream). Everything else is shared: the endpoints are the
HTTP benchmark's ``hello`` (no SQL) and ``list`` (20 rows with their author, one statement), on its tables and seed,
in a PostgreSQL database of the suite's own; servers, wrk, the rounds (variants interleaved, a fresh process each)
and the machine line are :mod:`tools.bench.http`'s. The first variant, ``absent``, leaves the layer's plugin out of
``settings.plugins``; the others are reported against it round by round. Progress goes to stderr, the markdown to
stdout (and --output).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import importlib
import json
import os
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.bench.http import benchenv, common, harness
from tools.bench.http.__main__ import describe_environment, make_log
from tools.bench.http.load import CONNECTIONS, ENDPOINTS, MISSING_WRK, Endpoint, LoadResult, wrk_path
from tools.bench.http.servers import CLIENT_CPU, App, Server, pin_to

if TYPE_CHECKING:
    from fastmango import FastMango

#: The app's variant and (for a variant with ``redis``) the Redis URL, read by the suite's ``create_app``.
VARIANT_VARIABLE = "BENCH_OVERHEAD_VARIANT"
REDIS_VARIABLE = "BENCH_OVERHEAD_REDIS_URL"
ENDPOINT_KEYS = ("hello", "list")
ABSENT = "absent"
MODULE = "tools.bench.overhead"  # not __name__, which is __main__ under python -m
#: The suites by name: the module whose ``SUITE`` describes it.
SUITES = {"devtools": "tools.bench.devtools", "monitoring": "tools.bench.monitoring"}


@dataclass(frozen=True)
class Variant:
    """One way of serving the app.

    Attributes:
        key / label: Its name on the command line and in the report.
        settings: Settings of its own, over the suite's.
        without: A plugin left out of ``settings.plugins`` (``DEFAULT_PLUGINS`` otherwise).
        redis: Whether it runs with ``--redis-url`` as ``REDIS_URL`` (and only when one is given).
    """

    key: str
    label: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    without: str | None = None
    redis: bool = False


@dataclass(frozen=True)
class Suite:
    """One benchmark of the tool: what is compared, checked and written.

    Attributes:
        key: ``--suite``'s value. module: The module with ``create_app`` (the uvicorn factory).
        title / intro: The report's heading and its first sentence.
        database: The default benchmark database (its name contains ``fm_bench_http``: the HTTP harness pins the
            PostgreSQL backends whose title names that database).
        variants: Served in this order; the first leaves the plugin out.
        settings: What every variant shares.
        uvicorn: uvicorn's options besides the loop, the HTTP implementation, the host and the port.
        check: The problems of a variant (as the harness's app) serving on a port, given the headers of its
            ``/hello`` and ``/books``.
        summary: The report's "In short" lines.
        setup: The report's setup notes.
    """

    key: str
    module: str
    title: str
    intro: str
    database: str
    variants: tuple[Variant, ...]
    settings: Mapping[str, Any]
    uvicorn: tuple[str, ...]
    check: Callable[[App, int, Mapping[str, Mapping[str, str]]], list[str]]
    summary: Callable[[harness.Plan, harness.Results], list[str]]
    setup: tuple[str, ...]

    def variant(self, key: str) -> Variant:
        return next(variant for variant in self.variants if variant.key == key)


def load_suite(key: str) -> Suite:
    """The suite named ``key`` (see :data:`SUITES`)."""
    suite: Suite = importlib.import_module(SUITES[key]).SUITE
    return suite


# -- the app ----------------------------------------------------------------------------------------------------
def build_app(
    suite: Suite,
    variant: str | None,
    database_url: str | None = None,
    pool_size: int | None = None,
    *,
    configure_logging: bool = True,
    redis_url: str | None = None,
) -> FastMango:
    """The benchmarked app of ``suite`` in ``variant`` (default: ``BENCH_OVERHEAD_VARIANT``, else the last variant
    without Redis): ``GET /hello`` and the HTTP benchmark's ``GET /books`` (a cursor page of 20 books with their
    author)."""
    from fastmango import FastMango, Settings
    from fastmango.api import CRUDRouter
    from fastmango.core.settings import DEFAULT_PLUGINS
    from tools.bench.http.app_fastmango import BenchBook

    fallback = [v for v in suite.variants if not v.redis][-1].key
    chosen = suite.variant(variant or os.environ.get(VARIANT_VARIABLE, fallback))
    if chosen.redis:
        redis_url = redis_url or os.environ.get(REDIS_VARIABLE)
        if not redis_url:
            raise RuntimeError(f"variant {chosen.key} needs a Redis URL ({REDIS_VARIABLE} or redis_url=)")
    settings = Settings(
        _env_file=None,
        **{**suite.settings, **chosen.settings},
        plugins=[name for name in DEFAULT_PLUGINS if name != chosen.without],
        # Explicit, so a REDIS_URL in the environment reaches no variant but the one meant to use it.
        redis_url=redis_url if chosen.redis else None,
        database_url=database_url or common.database_url(),
        database_pool_size=pool_size or common.pool_size(),
    )
    app = FastMango(settings=settings, configure_logging=configure_logging)
    app.include_router(
        CRUDRouter(
            BenchBook,
            prefix="/books",
            select_related=["author"],
            permissions=False,
            pagination="cursor",
            default_limit=common.LIST_LIMIT,
            actions=("list",),
        )
    )

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return common.HELLO

    return app


def server_apps(
    suite: Suite, loop: str = "uvloop", http_impl: str = "httptools", redis_url: str | None = None
) -> list[App]:
    """The variants as the HTTP harness's apps: uvicorn, one process; a variant needing Redis only with
    ``redis_url``."""
    argv = (
        *("-m", "uvicorn", "--loop", loop, "--http", http_impl, *suite.uvicorn),
        *("--factory", "--host", "127.0.0.1", "--port", "{port}", f"{suite.module}:create_app"),
    )
    served = f"uvicorn ({loop}, {http_impl}), 1 process"
    apps = []
    for v in suite.variants:
        if v.redis and not redis_url:
            continue
        env = {VARIANT_VARIABLE: v.key, **({REDIS_VARIABLE: redis_url} if v.redis and redis_url else {})}
        apps.append(App(v.key, v.label, served, argv, env))
    return apps


# -- before timing: every variant is what it says -------------------------------------------------------------
def get(port: int, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """``GET path`` on 127.0.0.1:``port``: the status, the headers (lower-case names) and the body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=dict(headers or {}))
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def problems(suite: Suite, app: App, port: int) -> list[str]:
    """What is wrong with ``app``, a variant of ``suite``, serving on ``port``: the two endpoints' answers, then the
    suite's own check."""
    found, seen = [], {}
    for path in ("/hello", "/books"):
        status, headers, body = get(port, path)
        seen[path] = headers
        data = json.loads(body) if status == 200 else None
        if path == "/hello" and data != common.HELLO:
            found.append(f"GET /hello answered {status} {body[:200]!r}")
        if path == "/books" and not (
            isinstance(data, dict)
            and len(data.get("items", [])) == common.LIST_LIMIT
            and all(isinstance(item.get("author"), dict) for item in data["items"])
        ):
            found.append(f"GET /books answered {status} {body[:200]!r}")
    return [*found, *suite.check(app, port, seen)]


# -- the run ----------------------------------------------------------------------------------------------------
async def on_server(url: str, *statements: str, seed: bool = False) -> str:
    """Run ``statements`` on the database at ``url`` (then, with ``seed``, create and fill the HTTP benchmark's
    tables); the server's version."""
    import asyncpg

    conn = await asyncpg.connect(common.plain_dsn(url))
    try:
        for statement in statements:
            await conn.execute(statement)
        if seed:
            await common.create_schema(conn)
            await common.seed(conn)
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def run(suite: Suite, plan: harness.Plan, database: str, log: harness.Log) -> harness.Results:
    """Create and seed ``database``, check every variant, then the HTTP harness's load rounds; drop it after.

    Raises:
        harness.CheckFailed: a variant answered wrongly or is not the variant it should be.
    """
    results = harness.Results()
    started = time.perf_counter()
    results.record_load_average("start")
    drop = f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'
    results.server_version = asyncio.run(on_server(plan.server_url, drop, f'CREATE DATABASE "{database}"'))
    url = plan.server_url.rsplit("/", 1)[0] + f"/{database}"
    try:
        asyncio.run(on_server(url, seed=True))
        log(f"seeded {database}: {common.ROWS:,} books of {common.AUTHORS} authors")
        for app in plan.apps:
            log_path = plan.log_dir / f"{app.key}.log" if plan.log_dir is not None else None
            with Server(app, plan.python, url, pin=plan.pin, log=log_path) as server:
                server.wait_ready()
                found = problems(suite, app, server.port)
            if found:
                raise harness.CheckFailed(f"{app.key}: " + "; ".join(found))
            log(f"checked {app.key}")
        harness.load_rounds(plan, url, results, log)
    finally:
        asyncio.run(on_server(plan.server_url, drop))
    results.record_load_average("end")
    results.seconds = time.perf_counter() - started
    return results


# -- the report -------------------------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _spread(values: Sequence[float]) -> str:
    middle = median(values)
    return f"{(max(values) - min(values)) / middle * 100:.0f}%" if values and middle else "-"


def ratios(results: harness.Results, key: str, endpoint: str, metric: str = "rps") -> list[float]:
    """``key``'s figure over the absent variant's, round by round (the rounds pair them: same minute)."""
    mine, base = results.load.get((key, endpoint), []), results.load.get((ABSENT, endpoint), [])
    return [getattr(a, metric) / getattr(b, metric) for a, b in zip(mine, base, strict=False) if getattr(b, metric)]


def cpu_added(results: harness.Results, key: str, endpoint: str) -> float:
    """``key``'s median CPU per request minus the absent variant's, microseconds."""

    def cpu(name: str) -> float:
        return median([r.cpu_us_per_request for r in results.load.get((name, endpoint), [])])

    return cpu(key) - cpu(ABSENT)


def span(values: Sequence[float]) -> str:
    """The median of ``values`` and, with several, their range in brackets."""
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def endpoint_table(plan: harness.Plan, results: harness.Results, endpoint: Endpoint) -> list[str]:
    """Per variant: req/s, CPU per request, latency, the spread across rounds and the ratios to absent."""
    lines = [
        f"#### {endpoint.label}",
        "",
        "| variant | req/s | /absent (rounds' range) | req/s spread | CPU us/req | /absent (rounds' range) "
        "| p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for app in plan.apps:
        runs: list[LoadResult] = results.load.get((app.key, endpoint.key), [])
        rps = [r.rps for r in runs]
        errors = sum(r.errors for r in runs)
        cells = [
            app.label,
            f"{median(rps):,.0f}",
            "1" if app.key == ABSENT else span(ratios(results, app.key, endpoint.key, "rps")),
            _spread(rps) + (f", {errors} errors" if errors else ""),
            f"{median([r.cpu_us_per_request for r in runs]):,.0f}",
            "1" if app.key == ABSENT else span(ratios(results, app.key, endpoint.key, "cpu_us_per_request")),
            f"{median([r.p50_ms for r in runs]):.2f}",
            f"{median([r.p99_ms for r in runs]):.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def document(
    suite: Suite,
    plan: harness.Plan,
    results: harness.Results,
    environment: str,
    command: str,
    notes: Sequence[str] = (),
) -> str:
    """The whole report (DEVTOOLS_RESULTS.md, MONITORING_RESULTS.md)."""
    load = "; ".join(f"{moment}: {' / '.join(f'{x:.2f}' for x in values)}" for moment, values in results.load_average)
    served = plan.apps[0].server if plan.apps else "-"
    order = ", ".join(app.key for app in plan.apps)
    lines = [
        f"# {suite.title}",
        "",
        f"{suite.intro} Written by [tools/bench/overhead.py](overhead.py) with "
        f"[tools/bench/{suite.key}.py]({suite.key}.py) (`make bench-{suite.key}`); do not edit by hand.",
        "",
        f"    {command}",
        "",
        f"- {environment}",
        f"- PostgreSQL {results.server_version}; the HTTP benchmark's tables and seed (`benchbook`, "
        f"{common.ROWS:,} rows with a foreign key to `benchauthor`, {common.AUTHORS} rows) in a database of its own.",
        f"- {served}; wrk: 1 thread, {CONNECTIONS} keep-alive connections; {plan.warmup:g} s warm-up then "
        f"{plan.duration:g} s measured per endpoint; variants interleaved ({order}) for {plan.rounds} "
        "round(s), each a fresh process; medians over rounds. `req/s spread` is (max - min) / median across rounds. "
        "`/absent` is the variant's figure over the absent variant's in the same round: the median of the rounds' "
        "ratios, their range in brackets.",
        "- `CPU us/req`: the server process's user + system CPU time during the measured run divided by the requests "
        "served; it hardly moves when other work takes turns on the server's core, so it is the steadier figure on a "
        "busy machine.",
        f"- Load average (1/5/15 min) {load}. The benchmark alone keeps about 2 processes busy (the app, and wrk with "
        "PostgreSQL).",
        f"- Whole run: {results.seconds / 60:.1f} min.",
        "",
        "### Requests per second, CPU time and latency",
        "",
    ]
    for endpoint in plan.endpoints:
        lines += endpoint_table(plan, results, endpoint)
    lines += ["### In short", "", *suite.summary(plan, results), ""]
    lines += ["### Setup", "", *suite.setup, *(f"- {note}" for note in (*results.notes, *notes)), ""]
    return "\n".join(lines)


# -- the command line -------------------------------------------------------------------------------------------
def _keys(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_args(argv: Sequence[str] | None = None, suite: str | None = None) -> argparse.Namespace:
    """The options; ``suite`` fixes ``--suite``'s default (the suites' own entry points)."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {SUITES[suite] if suite else MODULE}",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--suite", choices=list(SUITES), default=suite, required=suite is None, help="what to measure")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; medians are kept (default: 5)")
    parser.add_argument("--duration", type=int, default=4, help="measured seconds per run (default: 4)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured seconds before each run (default: 1)")
    parser.add_argument(
        "--endpoints", type=_keys, default=list(ENDPOINT_KEYS), help="comma-separated subset of hello,list"
    )
    parser.add_argument(
        "--postgres-url",
        default=harness.DEFAULT_SERVER_URL,
        help="any database on the server; used to create and drop --database (default: %(default)s)",
    )
    parser.add_argument("--database", help="the benchmark's database (default: the suite's, fm_bench_http_<suite>)")
    parser.add_argument("--redis-url", help="monitoring: also time metrics flushed to this Redis (metrics+redis)")
    parser.add_argument("--python", help="interpreter that runs the app (default: .venv-bench, made on demand)")
    parser.add_argument("--loop", default="uvloop", help="uvicorn's --loop (default: %(default)s)")
    parser.add_argument("--http", default="httptools", help="uvicorn's --http (default: %(default)s)")
    parser.add_argument("--no-pin", action="store_true", help="pin nothing to a CPU")
    parser.add_argument("--logs", type=Path, help="keep the app's stdout/stderr in this folder")
    parser.add_argument("--note", action="append", default=[], help="a line for the report's setup notes")
    parser.add_argument("--output", type=Path, help="also write the markdown to this file")
    args = parser.parse_args(argv)
    for name in ("rounds", "duration", "warmup"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    unknown = set(args.endpoints) - set(ENDPOINT_KEYS)
    if unknown or not args.endpoints:
        parser.error(f"--endpoints: choose from {', '.join(ENDPOINT_KEYS)}")
    if args.redis_url and not any(v.redis for v in load_suite(args.suite).variants):
        parser.error(f"--redis-url: the {args.suite} suite has no variant with Redis")
    return args


def main(argv: Sequence[str] | None = None, suite: str | None = None) -> int:
    """Run the benchmark; ``suite`` is set by a suite's own entry point (``python -m tools.bench.devtools``)."""
    args = parse_args(argv, suite)
    chosen = load_suite(args.suite)
    log = make_log()
    if wrk_path() is None:
        print(MISSING_WRK, file=sys.stderr)
        return 3
    python = args.python or benchenv.ensure(log)
    pinned = not args.no_pin and (os.cpu_count() or 1) > CLIENT_CPU
    if pinned:
        pin_to(CLIENT_CPU)
    plan = harness.Plan(
        apps=server_apps(chosen, args.loop, args.http, args.redis_url),
        endpoints=[endpoint for endpoint in ENDPOINTS if endpoint.key in args.endpoints],
        rounds=args.rounds,
        duration=args.duration,
        warmup=args.warmup,
        startup_samples=1,
        pin=pinned,
        python=python,
        server_url=args.postgres_url,
        log_dir=args.logs,
        admin_rounds=0,
        startup=False,
    )
    if args.logs is not None:
        args.logs.mkdir(parents=True, exist_ok=True)
    log(
        f"{chosen.key}: about {plan.estimate_seconds() / 60:.1f} min: {len(plan.apps)} variants x "
        f"{len(plan.endpoints)} endpoints x {args.rounds}"
    )
    try:
        results = run(chosen, plan, args.database or chosen.database, log)
    except harness.CheckFailed as exc:
        print(f"check failed, nothing timed: {exc}", file=sys.stderr)
        return 2
    prog = f"python -m {SUITES[suite] if suite else MODULE} "
    command = prog + shlex.join(argv if argv is not None else sys.argv[1:])
    markdown = document(chosen, plan, results, describe_environment(python, pinned), command.strip(), args.note)
    print(markdown, end="")
    if args.output is not None:
        args.output.write_text(markdown)
        log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    from tools.bench import overhead  # the suites' modules describe themselves with that module's classes

    sys.exit(overhead.main())
