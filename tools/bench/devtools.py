"""What the developer tools' recording costs a request: one small fastmango app served three ways, loaded with wrk.

    .venv/bin/python -m tools.bench.devtools --output tools/bench/DEVTOOLS_RESULTS.md     # the full run (~4 min)
    .venv/bin/python -m tools.bench.devtools --rounds 1 --duration 1 --endpoints hello  # a smoke run

The variants differ in nothing but the recording (:data:`VARIANTS`): every one runs DEBUG on in the dev profile, so
the database layer's ``Server-Timing`` middleware and DEBUG's error details are the same in all three, and the
recording keeps every request (outside DEBUG it keeps only staff users' requests, which would leave the store's
half of the path out). The endpoints are the HTTP benchmark's ``hello`` (no SQL) and ``list`` (20 rows with their
author, one statement), on its tables and seed, in a PostgreSQL database of this benchmark's own. Servers, wrk, the
rounds (variants interleaved, a fresh process each) and the machine line are :mod:`tools.bench.http`'s. Progress
goes to stderr, the markdown to stdout (and --output).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import shlex
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tools.bench.http import benchenv, common, harness
from tools.bench.http.__main__ import describe_environment, make_log
from tools.bench.http.load import CONNECTIONS, ENDPOINTS, MISSING_WRK, Endpoint, LoadResult, wrk_path
from tools.bench.http.servers import CLIENT_CPU, App, Server, pin_to

if TYPE_CHECKING:
    from fastmango import FastMango

#: The app's variant, read by :func:`create_app` in the server process.
VARIANT_VARIABLE = "BENCH_DEVTOOLS_VARIANT"
DEVTOOLS_PLUGIN = "fastmango.devtools.plugin:DevtoolsPlugin"
#: Contains ``fm_bench_http``: the HTTP harness pins the PostgreSQL backends whose title names that database.
DATABASE_NAME = "fm_bench_http_devtools"
ENDPOINT_KEYS = ("hello", "list")
ABSENT, OFF, ON = "absent", "off", "on"


@dataclass(frozen=True)
class Variant:
    """One way of serving the app: whether the devtools plugin is in ``settings.plugins``, and ``debug_panel``."""

    key: str
    label: str
    plugin: bool
    debug_panel: bool | None


VARIANTS = (
    Variant(ABSENT, "plugin absent (`settings.plugins` without it)", plugin=False, debug_panel=None),
    Variant(OFF, "off (plugin present, `debug_panel=False`)", plugin=True, debug_panel=False),
    Variant(ON, "on (`debug_panel=True`, memory store)", plugin=True, debug_panel=True),
)
_BY_KEY = {variant.key: variant for variant in VARIANTS}


def create_app(
    database_url: str | None = None,
    pool_size: int | None = None,
    *,
    variant: str | None = None,
    configure_logging: bool = True,
) -> FastMango:
    """The benchmarked app in ``variant`` (default: ``BENCH_DEVTOOLS_VARIANT``): ``GET /hello`` and the HTTP
    benchmark's ``GET /books`` (a cursor page of 20 books with their author)."""
    from fastmango import FastMango, Settings
    from fastmango.api import CRUDRouter
    from fastmango.core.settings import DEFAULT_PLUGINS
    from tools.bench.http.app_fastmango import SECRET_KEY, BenchBook

    chosen = _BY_KEY[variant or os.environ.get(VARIANT_VARIABLE, ON)]
    settings = Settings(
        _env_file=None,
        env="dev",
        debug=True,
        debug_panel=chosen.debug_panel,
        debug_panel_store="memory",
        plugins=[name for name in DEFAULT_PLUGINS if chosen.plugin or name != DEVTOOLS_PLUGIN],
        secret_key=SECRET_KEY,
        database_url=database_url or common.database_url(),
        database_pool_size=pool_size or common.pool_size(),
        log_level="WARNING",
        api_history=False,
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


def server_apps(loop: str = "uvloop", http_impl: str = "httptools") -> list[App]:
    """The variants as the HTTP harness's apps: uvicorn, one process, no access log."""
    argv = (
        *("-m", "uvicorn", "--loop", loop, "--http", http_impl, "--no-access-log", "--log-level", "warning"),
        *("--factory", "--host", "127.0.0.1", "--port", "{port}", "tools.bench.devtools:create_app"),
    )
    served = f"uvicorn ({loop}, {http_impl}), 1 process"
    return [App(v.key, v.label, served, argv, {VARIANT_VARIABLE: v.key}) for v in VARIANTS]


# -- before timing: every variant is what it says -------------------------------------------------------
def _get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def problems(key: str, port: int) -> list[str]:
    """What is wrong with variant ``key`` serving on ``port``: the answers, ``Server-Timing`` (all variants) and
    ``X-Debug-Record`` (the recording one only)."""
    import json

    found = []
    for path in ("/hello", "/books"):
        status, headers, body = _get(port, path)
        data = json.loads(body) if status == 200 else None
        if path == "/hello" and data != common.HELLO:
            found.append(f"GET /hello answered {status} {body[:200]!r}")
        if path == "/books" and not (
            isinstance(data, dict)
            and len(data.get("items", [])) == common.LIST_LIMIT
            and all(isinstance(item.get("author"), dict) for item in data["items"])
        ):
            found.append(f"GET /books answered {status} {body[:200]!r}")
        if "server-timing" not in headers:
            found.append(f"GET {path}: no Server-Timing (DEBUG must be on in every variant)")
        if ("x-debug-record" in headers) != (key == ON):
            found.append(f"GET {path}: X-Debug-Record {'missing' if key == ON else 'sent'}")
    return found


# -- the run --------------------------------------------------------------------------------------------
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


def run(plan: harness.Plan, database: str, log: harness.Log) -> harness.Results:
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
                found = problems(app.key, server.port)
            if found:
                raise harness.CheckFailed(f"{app.key}: " + "; ".join(found))
            log(f"checked {app.key}")
        harness.load_rounds(plan, url, results, log)
    finally:
        asyncio.run(on_server(plan.server_url, drop))
    results.record_load_average("end")
    results.seconds = time.perf_counter() - started
    return results


# -- the report -----------------------------------------------------------------------------------------
def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _spread(values: Sequence[float]) -> str:
    middle = _median(values)
    return f"{(max(values) - min(values)) / middle * 100:.0f}%" if values and middle else "-"


def _ratios(results: harness.Results, key: str, endpoint: str, metric: str) -> list[float]:
    """``key``'s figure over the absent variant's, round by round (the rounds pair them: same minute)."""
    mine, base = results.load.get((key, endpoint), []), results.load.get((ABSENT, endpoint), [])
    return [getattr(a, metric) / getattr(b, metric) for a, b in zip(mine, base, strict=False) if getattr(b, metric)]


def _range(values: Sequence[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{_median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


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
            f"{_median(rps):,.0f}",
            "1" if app.key == ABSENT else _range(_ratios(results, app.key, endpoint.key, "rps")),
            _spread(rps) + (f", {errors} errors" if errors else ""),
            f"{_median([r.cpu_us_per_request for r in runs]):,.0f}",
            "1" if app.key == ABSENT else _range(_ratios(results, app.key, endpoint.key, "cpu_us_per_request")),
            f"{_median([r.p50_ms for r in runs]):.2f}",
            f"{_median([r.p99_ms for r in runs]):.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def summary(plan: harness.Plan, results: harness.Results) -> list[str]:
    """One line per endpoint: what recording adds (on - absent) and what the present-but-off plugin adds."""
    lines = []
    for endpoint in plan.endpoints:

        def cpu(key: str, name: str = endpoint.key) -> float:
            return _median([r.cpu_us_per_request for r in results.load.get((key, name), [])])

        on, off = _ratios(results, ON, endpoint.key, "rps"), _ratios(results, OFF, endpoint.key, "rps")
        lines.append(
            f"- `{endpoint.key}`: on/absent {_range(on)} req/s, recording adds {cpu(ON) - cpu(ABSENT):+.0f} us CPU "
            f"per request; off/absent {_range(off)} req/s, {cpu(OFF) - cpu(ABSENT):+.0f} us CPU per request."
        )
    return [*lines, ""]


def document(
    plan: harness.Plan, results: harness.Results, environment: str, command: str, notes: Sequence[str] = ()
) -> str:
    """The whole DEVTOOLS_RESULTS.md."""
    load = "; ".join(f"{moment}: {' / '.join(f'{x:.2f}' for x in values)}" for moment, values in results.load_average)
    served = plan.apps[0].server if plan.apps else "-"
    lines = [
        "# Developer tools: the cost of recording",
        "",
        "One fastmango app served three ways, loaded with wrk. Written by [tools/bench/devtools.py](devtools.py) "
        "(`make bench-devtools`); do not edit by hand.",
        "",
        f"    {command}",
        "",
        f"- {environment}",
        f"- PostgreSQL {results.server_version}; the HTTP benchmark's tables and seed (`benchbook`, "
        f"{common.ROWS:,} rows with a foreign key to `benchauthor`, {common.AUTHORS} rows) in a database of its own.",
        f"- {served}; wrk: 1 thread, {CONNECTIONS} keep-alive connections; {plan.warmup:g} s warm-up then "
        f"{plan.duration:g} s measured per endpoint; variants interleaved (absent, off, on) for {plan.rounds} "
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
    lines += ["### In short", "", *summary(plan, results)]
    lines += ["### Setup", "", *SETUP, *(f"- {note}" for note in (*results.notes, *notes)), ""]
    return "\n".join(lines)


SETUP = [
    '- The variants differ only in the recording. All three run `Settings(env="dev", debug=True, ...)`: DEBUG '
    "also installs the database layer's `ServerTimingMiddleware` (one query-hook listener, a `Server-Timing` header) "
    "and turns on DEBUG's error details, and those are then the same in every variant (checked before timing: "
    "`Server-Timing` on every answer, `X-Debug-Record` on the recording variant's only). In DEBUG the recording "
    "keeps every request, which is the whole path measured here: outside DEBUG `debug_panel=True` keeps only staff "
    "users' requests, and an anonymous request would skip the store.",
    "- absent: `settings.plugins` is `DEFAULT_PLUGINS` without `fastmango.devtools.plugin:DevtoolsPlugin`. off: the "
    "default plugins, `debug_panel=False` (the plugin installs nothing). on: `debug_panel=True`, "
    '`debug_panel_store="memory"` (the newest 200 records kept): `RecordingMiddleware` opens a record per request '
    "(headers masked), the query-hook listener adds each statement with its parameters and the call site found by "
    "a stack walk, the log handler adds log lines (none here: log level WARNING), and the record is analysed for "
    "N+1 and saved when the response is done.",
    '- `hello`: `@app.get("/hello")` returning a constant dict, no SQL. `list`: `CRUDRouter(BenchBook, '
    'select_related=["author"], permissions=False, pagination="cursor")`, 20 rows fetched as 21 with one JOIN, as '
    "in the HTTP benchmark (tools/bench/http/app_fastmango.py's models). `database_pool_size=16`, as many as wrk's "
    "connections.",
]


# -- the command line -----------------------------------------------------------------------------------
def _keys(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench.devtools",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    parser.add_argument("--database", default=DATABASE_NAME, help="the benchmark's database (default: %(default)s)")
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
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    log = make_log()
    if wrk_path() is None:
        print(MISSING_WRK, file=sys.stderr)
        return 3
    python = args.python or benchenv.ensure(log)
    pinned = not args.no_pin and (os.cpu_count() or 1) > CLIENT_CPU
    if pinned:
        pin_to(CLIENT_CPU)
    plan = harness.Plan(
        apps=server_apps(args.loop, args.http),
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
    log(f"about {plan.estimate_seconds() / 60:.1f} min: 3 variants x {len(plan.endpoints)} endpoints x {args.rounds}")
    try:
        results = run(plan, args.database, log)
    except harness.CheckFailed as exc:
        print(f"check failed, nothing timed: {exc}", file=sys.stderr)
        return 2
    command = "python -m tools.bench.devtools " + shlex.join(argv if argv is not None else sys.argv[1:])
    markdown = document(plan, results, describe_environment(python, pinned), command.strip(), args.note)
    print(markdown, end="")
    if args.output is not None:
        args.output.write_text(markdown)
        log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
