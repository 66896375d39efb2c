"""What monitoring costs a request: the overhead benchmark's ``monitoring`` suite (issue 18's goal: metrics cost
under 5% of req/s on ``hello`` and the CRUD ``list``).

    .venv/bin/python -m tools.bench.monitoring --output tools/bench/MONITORING_RESULTS.md   # the full run (~5 min)
    .venv/bin/python -m tools.bench.monitoring --redis-url redis://127.0.0.1:6379/0 ...    # adds metrics+redis
    .venv/bin/python -m tools.bench.monitoring --rounds 1 --duration 1 --endpoints hello  # a smoke run

(the same as ``python -m tools.bench.overhead --suite monitoring``). The app runs as in production: the prod
profile, DEBUG off (so neither the debug panel's recording nor ``Server-Timing`` is installed), a real secret key,
``LOG_LEVEL=INFO`` with JSON lines, uvicorn's own defaults. The variants (:data:`VARIANTS`) differ in
``settings.metrics`` and ``settings.logstream`` only, and one of them in ``REDIS_URL``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tools.bench import overhead
from tools.bench.http import harness
from tools.bench.http.app_fastmango import SECRET_KEY
from tools.bench.http.servers import App
from tools.bench.overhead import ABSENT, REDIS_VARIABLE, Suite, Variant, cpu_added, median, ratios, span

if TYPE_CHECKING:
    from fastmango import FastMango

MONITORING_PLUGIN = "fastmango.monitoring.plugin:MonitoringPlugin"
OFF, METRICS, ALL, METRICS_REDIS = "off", "metrics", "all", "metrics+redis"
#: The bearer secret of ``/metrics`` in every variant (the checks scrape with it).
METRICS_TOKEN = "bench-metrics-token-0123456789abcdef"
METRICS_PREFIX = "fm_bench_overhead:metrics"
ADMIN_PATH = "/admin"
LOGS_RECENT = f"{ADMIN_PATH}/api/monitoring/logs/recent"
#: The goal of issue 18: what monitoring may take off the requests per second.
GOAL = 0.05

VARIANTS = (
    Variant(ABSENT, "plugin absent (`settings.plugins` without it)", without=MONITORING_PLUGIN),
    Variant(OFF, "off (plugin present, `metrics=False, logstream=False`)", {"metrics": False, "logstream": False}),
    Variant(METRICS, "metrics (`metrics=True, logstream=False`)", {"metrics": True, "logstream": False}),
    Variant(ALL, "all: the defaults (`metrics=True, logstream=True`)", {"metrics": True, "logstream": True}),
    Variant(
        METRICS_REDIS,
        "metrics + Redis (`metrics=True, logstream=False`, `REDIS_URL`)",
        {"metrics": True, "logstream": False},
        redis=True,
    ),
)


def _redis_keys(url: str) -> int:
    """How many keys of the metrics' store Redis at ``url`` holds."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        return sum(1 for _ in client.scan_iter(f"{METRICS_PREFIX}*", count=1000))
    finally:
        client.close()


def check(app: App, port: int, headers: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Production headers (no ``Server-Timing``, no ``X-Debug-Record``); ``/metrics`` answers the token with this
    process's counts where metrics are on, 404 elsewhere; the live logs' API exists where the log stream is on (401
    to an anonymous client), 404 elsewhere; with Redis, the metrics reach it."""
    metrics_on = app.key in (METRICS, ALL, METRICS_REDIS)
    found = []
    for path, sent in headers.items():
        for header in ("server-timing", "x-debug-record"):
            if header in sent:
                found.append(f"GET {path}: {header} sent (the prod profile installs neither)")
    status, _, body = overhead.get(port, "/metrics", {"Authorization": f"Bearer {METRICS_TOKEN}"})
    if metrics_on and not (status == 200 and b'route="/hello"' in body and b'route="/books"' in body):
        found.append(f"GET /metrics with the token answered {status} {body[:200]!r}, not the counts of both routes")
    if not metrics_on and status != 404:
        found.append(f"GET /metrics answered {status}, not 404 (metrics must be off)")
    if metrics_on and (anonymous := overhead.get(port, "/metrics")[0]) != 401:
        found.append(f"GET /metrics without the token answered {anonymous}, not 401")
    logs = overhead.get(port, LOGS_RECENT)[0]
    if logs != (401 if app.key == ALL else 404):
        found.append(f"GET {LOGS_RECENT} answered {logs} (the log stream must be {'on' if app.key == ALL else 'off'})")
    redis_url = app.env.get(REDIS_VARIABLE)
    if app.key == METRICS_REDIS and (not redis_url or _redis_keys(redis_url) == 0):
        found.append(f"no {METRICS_PREFIX}* keys in Redis after a scrape (the metrics must be flushed there)")
    return found


def verdict(results: harness.Results, keys: list[str], endpoint: str) -> str:
    """One endpoint against :data:`GOAL`: each of ``keys``'s req/s cost (1 - median ratio to absent)."""
    parts, met = [], True
    for key in keys:
        paired = ratios(results, key, endpoint)
        cost = 1 - median(paired) if paired else float("nan")
        met = met and cost < GOAL
        below = sum(1 for ratio in paired if ratio <= 1 - GOAL)
        rounds = f", {below} of {len(paired)} rounds at {1 - GOAL:.2f} or below" if below else ""
        parts.append(
            f"{key} {cost * 100:.1f}% of req/s ({key}/absent {span(paired)}{rounds}), "
            f"{cpu_added(results, key, endpoint):+.0f} us CPU per request"
        )
    goal = f"{'meets' if met else 'misses'} the goal (under {GOAL * 100:.0f}% of req/s)"
    return f"- `{endpoint}`: {goal}: " + "; ".join(parts) + "."


def summary(plan: harness.Plan, results: harness.Results) -> list[str]:
    """One verdict per endpoint, on each variant with metrics on; then what the plugin costs when off."""
    keys = [app.key for app in plan.apps if app.key in (METRICS, ALL, METRICS_REDIS)]
    lines = [verdict(results, keys, endpoint.key) for endpoint in plan.endpoints]
    for endpoint in plan.endpoints:
        off = ratios(results, OFF, endpoint.key)
        lines.append(
            f"- `{endpoint.key}`, plugin present but off: off/absent {span(off)} req/s, "
            f"{cpu_added(results, OFF, endpoint.key):+.0f} us CPU per request."
        )
    return lines


SETUP = (
    '- Every variant runs `Settings(env="prod", debug=False, ...)` as a production deployment does: the prod '
    "profile refuses DEBUG and the insecure default key (`Settings.check`), so the app has a real `SECRET_KEY`; "
    "with DEBUG off and `debug_panel` unset the debug panel's recording and the database layer's "
    "`ServerTimingMiddleware` are not installed (checked before timing: no `Server-Timing`, no `X-Debug-Record`). "
    "`metrics_token` is set so the checks can scrape `/metrics`; `alerts=False` (the rule evaluator runs every 30 s, "
    "not per request, and reads a table this benchmark's database does not have); `api_history=False` (it records "
    "writes only, and the database has no history table).",
    "- Logging as in production: `LOG_LEVEL=INFO` (the default), JSON lines on stderr (the harness discards them, "
    "as it does every app's output unless `--logs`). fastmango's logging setup replaces uvicorn's access log with "
    "its own line per request (`RequestMiddleware`, logger `fastmango.request`, INFO), and uvicorn then finds no "
    "handler on `uvicorn.access` and logs nothing itself, whatever `--access-log` says; uvicorn runs with its "
    "defaults (access log on, `--log-level info`). So every variant emits one record per request; in `all` the "
    "log stream's root-logger handler is at its default level, WARNING, and the INFO request lines pass it by (at "
    "`LOGSTREAM_LEVEL=INFO` it serializes each, masking secrets, for `logs/recent` and any viewer: a run at INFO "
    "measured 0.78x / 0.76x req/s, which is why WARNING is the default).",
    "- absent: `settings.plugins` is `DEFAULT_PLUGINS` without `fastmango.monitoring.plugin:MonitoringPlugin`. "
    "off: the default plugins, `metrics=False, logstream=False` (the plugin installs nothing but its permissions; "
    "`/metrics` and the live logs' API are 404). metrics: `MetricsMiddleware` counts and times every request by "
    "route template, the statement receiver counts its statements, and the monitor flushes every "
    "`metrics_flush_seconds` (5 s) to this process's memory (checked: `/metrics` answers the bearer token with "
    "both routes' counts, 401 without it). all: metrics and the log stream (its API answers 401 to an anonymous "
    "client). No `REDIS_URL`: one process, nothing shared.",
    f"- metrics + Redis (only with `--redis-url`): metrics with `REDIS_URL`, every flush (5 s) adding the "
    f"process's deltas and gauges to Redis under `{METRICS_PREFIX}` (checked: keys there after a scrape). "
    "`REDIS_URL` also makes the task backend arq (no job is enqueued here).",
    '- `hello`: `@app.get("/hello")` returning a constant dict, no SQL. `list`: `CRUDRouter(BenchBook, '
    'select_related=["author"], permissions=False, pagination="cursor")`, 20 rows fetched as 21 with one JOIN, as '
    "in the HTTP benchmark (tools/bench/http/app_fastmango.py's models). `database_pool_size=16`, as many as wrk's "
    "connections.",
)

SUITE = Suite(
    key="monitoring",
    module="tools.bench.monitoring",
    title="Monitoring: the cost of metrics and the live log stream",
    intro="One fastmango app served four ways (five with `--redis-url`), loaded with wrk.",
    database="fm_bench_http_monitoring",
    variants=VARIANTS,
    settings={
        "env": "prod",
        "debug": False,
        "secret_key": SECRET_KEY,
        "log_level": "INFO",
        "admin_path": ADMIN_PATH,
        "metrics_token": METRICS_TOKEN,
        "metrics_redis_prefix": METRICS_PREFIX,
        "alerts": False,
        "api_history": False,
    },
    uvicorn=(),
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
    redis_url: str | None = None,
) -> FastMango:
    """The benchmarked app in ``variant`` (default: ``BENCH_OVERHEAD_VARIANT``, else ``all``; ``metrics+redis``
    needs ``redis_url`` or ``BENCH_OVERHEAD_REDIS_URL``)."""
    return overhead.build_app(
        SUITE, variant, database_url, pool_size, configure_logging=configure_logging, redis_url=redis_url
    )


def server_apps(loop: str = "uvloop", http_impl: str = "httptools", redis_url: str | None = None) -> list[App]:
    """The variants as the HTTP harness's apps (``metrics+redis`` only with ``redis_url``)."""
    return overhead.server_apps(SUITE, loop, http_impl, redis_url)


if __name__ == "__main__":
    sys.exit(overhead.main(suite="monitoring"))
