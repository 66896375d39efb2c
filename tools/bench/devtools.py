"""What the developer tools' recording costs a request: the overhead benchmark's ``devtools`` suite.

    .venv/bin/python -m tools.bench.devtools --output tools/bench/DEVTOOLS_RESULTS.md     # the full run (~4 min)
    .venv/bin/python -m tools.bench.devtools --rounds 1 --duration 1 --endpoints hello  # a smoke run

(the same as ``python -m tools.bench.overhead --suite devtools``; the run, the checks' common half and the report
are :mod:`tools.bench.overhead`'s). The variants differ in nothing but the recording (:data:`VARIANTS`): every one
runs DEBUG on in the dev profile, so the database layer's ``Server-Timing`` middleware and DEBUG's error details are
the same in all three, and the recording keeps every request (outside DEBUG it keeps only staff users' requests,
which would leave the store's half of the path out).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tools.bench import overhead
from tools.bench.http import harness
from tools.bench.http.app_fastmango import SECRET_KEY
from tools.bench.http.servers import App
from tools.bench.overhead import ABSENT, Suite, Variant, cpu_added, ratios, span

if TYPE_CHECKING:
    from fastmango import FastMango

DEVTOOLS_PLUGIN = "fastmango.devtools.plugin:DevtoolsPlugin"
OFF, ON = "off", "on"

VARIANTS = (
    Variant(ABSENT, "plugin absent (`settings.plugins` without it)", without=DEVTOOLS_PLUGIN),
    Variant(OFF, "off (plugin present, `debug_panel=False`)", {"debug_panel": False}),
    Variant(ON, "on (`debug_panel=True`, memory store)", {"debug_panel": True}),
)


def check(app: App, port: int, headers: Mapping[str, Mapping[str, str]]) -> list[str]:
    """``Server-Timing`` on every answer (DEBUG in every variant), ``X-Debug-Record`` on the recording one's only."""
    found = []
    for path, sent in headers.items():
        if "server-timing" not in sent:
            found.append(f"GET {path}: no Server-Timing (DEBUG must be on in every variant)")
        if ("x-debug-record" in sent) != (app.key == ON):
            found.append(f"GET {path}: X-Debug-Record {'missing' if app.key == ON else 'sent'}")
    return found


def summary(plan: harness.Plan, results: harness.Results) -> list[str]:
    """One line per endpoint: what recording adds (on - absent) and what the present-but-off plugin adds."""
    lines = []
    for endpoint in plan.endpoints:
        key = endpoint.key
        on, off = ratios(results, ON, key), ratios(results, OFF, key)
        lines.append(
            f"- `{key}`: on/absent {span(on)} req/s, recording adds {cpu_added(results, ON, key):+.0f} us CPU per "
            f"request; off/absent {span(off)} req/s, {cpu_added(results, OFF, key):+.0f} us CPU per request."
        )
    return lines


SETUP = (
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
)

SUITE = Suite(
    key="devtools",
    module="tools.bench.devtools",
    title="Developer tools: the cost of recording",
    intro="One fastmango app served three ways, loaded with wrk.",
    database="fm_bench_http_devtools",
    variants=VARIANTS,
    settings={
        "env": "dev",
        "debug": True,
        "debug_panel_store": "memory",
        "secret_key": SECRET_KEY,
        "log_level": "WARNING",
        "api_history": False,
    },
    uvicorn=("--no-access-log", "--log-level", "warning"),
    check=check,
    summary=summary,
    setup=SETUP,
)


def create_app(
    database_url: str | None = None,
    pool_size: int | None = None,
    *,
    variant: str | None = None,
    configure_logging: bool = True,
) -> FastMango:
    """The benchmarked app in ``variant`` (default: ``BENCH_OVERHEAD_VARIANT``, else ``on``)."""
    return overhead.build_app(SUITE, variant, database_url, pool_size, configure_logging=configure_logging)


def server_apps(loop: str = "uvloop", http_impl: str = "httptools") -> list[App]:
    """The variants as the HTTP harness's apps."""
    return overhead.server_apps(SUITE, loop, http_impl)


if __name__ == "__main__":
    sys.exit(overhead.main(suite="devtools"))
