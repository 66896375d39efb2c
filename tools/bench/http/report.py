"""The markdown of tools/bench/RESULTS.md: per endpoint, requests/s and p50/p99 latency of each app with its
ratio to the floor and to FastAPI + SQLAlchemy; fastmango's admin list on a 100,000-row table; start-up and
memory; fastmango's goals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from tools.bench import plan_cache
from tools.bench.http import admin_list, checks, common, statements
from tools.bench.http.harness import Plan, Results, median
from tools.bench.http.load import CONNECTIONS, Endpoint, LoadResult, floor_goals

FLOOR, SQLALCHEMY, FASTMANGO = "floor", "sqlalchemy", "fastmango"


def _num(value: float, digits: int = 0) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}"


def _ratio(value: float, reference: float | None) -> str:
    if reference is None or math.isnan(value) or math.isnan(reference) or reference == 0:
        return "-"
    return f"{value / reference:.2f}"


def _medians(runs: Sequence[LoadResult]) -> dict[str, float]:
    return {
        "rps": median([r.rps for r in runs]),
        "cpu": median([r.cpu_us_per_request for r in runs]),
        "p50": median([r.p50_ms for r in runs]),
        "p99": median([r.p99_ms for r in runs]),
        "spread": (max(r.rps for r in runs) - min(r.rps for r in runs)) / median([r.rps for r in runs]) * 100
        if runs and median([r.rps for r in runs])
        else float("nan"),
        "errors": sum(r.errors for r in runs),
    }


def endpoint_table(plan: Plan, results: Results, endpoint: Endpoint) -> list[str]:
    rows = {app.key: _medians(results.load.get((app.key, endpoint.key), [])) for app in plan.apps}
    floor, sqlalchemy = rows.get(FLOOR), rows.get(SQLALCHEMY)
    lines = [
        f"#### {endpoint.label}",
        "",
        "| app | req/s | /floor | /SQLAlchemy | CPU us/req | /floor | /SQLAlchemy | p50 ms | /floor | /SQLAlchemy "
        "| p99 ms | /floor | /SQLAlchemy | spread |",
        "|---|" + "---:|" * 13,
    ]
    for app in plan.apps:
        row = rows[app.key]
        cells = [app.label if app.key != FASTMANGO else f"**{app.label}**"]
        for metric, digits in (("rps", 0), ("cpu", 0), ("p50", 2), ("p99", 2)):
            cells += [
                _num(row[metric], digits),
                _ratio(row[metric], floor[metric] if floor else None),
                _ratio(row[metric], sqlalchemy[metric] if sqlalchemy else None),
            ]
        spread = f"{row['spread']:.0f}%" if not math.isnan(row["spread"]) else "-"
        if row["errors"]:
            spread += f", {int(row['errors'])} errors"
        cells.append(spread)
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def resources_table(plan: Plan, results: Results) -> list[str]:
    idle_sa = median(results.rss_idle.get(SQLALCHEMY, []))
    lines = [
        "| app | served by | start-up to first 200 (s) | idle RSS (MiB) | idle RSS /SQLAlchemy "
        "| RSS after load (MiB) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for app in plan.apps:
        startup = results.startup.get(app.key, [])
        idle = median(results.rss_idle.get(app.key, []))
        spread = f" ({min(startup):.2f}-{max(startup):.2f})" if len(startup) > 1 else ""
        lines.append(
            f"| {app.label} | {app.server} | {_num(median(startup), 2)}{spread} | {_num(idle, 1)} | "
            f"{_ratio(idle, idle_sa if app.key != SQLALCHEMY else idle)} | "
            f"{_num(median(results.rss_loaded.get(app.key, [])), 1)} |"
        )
    return [*lines, ""]


def goals(plan: Plan, results: Results) -> list[str]:
    """fastmango against the issue's goals (reported, never asserted)."""
    keys = {app.key for app in plan.apps}
    if FASTMANGO not in keys:
        return []
    lines = ["| goal | measured | met |", "|---|---|:-:|"]

    def rps(app: str, endpoint: str) -> float:
        return median([r.rps for r in results.load.get((app, endpoint), [])])

    def cpu(app: str, endpoint: str) -> float:
        return median([r.cpu_us_per_request for r in results.load.get((app, endpoint), [])])

    for endpoint in plan.endpoints:
        mine, my_cpu = rps(FASTMANGO, endpoint.key), cpu(FASTMANGO, endpoint.key)
        targets = [(FLOOR, f"at least {share:g}x the floor's req/s", share) for share in floor_goals(endpoint)]
        for other, goal, threshold in (*targets, (SQLALCHEMY, "never below FastAPI + SQLAlchemy", 1.0)):
            if other not in keys:
                continue
            ratio, cpu_ratio = mine / rps(other, endpoint.key), cpu(other, endpoint.key) / my_cpu
            met = "yes" if ratio >= threshold else "NO"
            lines.append(
                f"| {endpoint.key}: {goal} | {ratio:.2f}x req/s ({cpu_ratio:.2f}x by CPU time per request) | {met} |"
            )
    lines += admin_goal(results)
    startup = median(results.startup.get(FASTMANGO, []))
    if not math.isnan(startup):
        met = "yes" if startup < 1 else "NO"
        lines.append(f"| start-up to first response under 1 s (prod) | {startup:.2f} s | {met} |")
    idle, idle_sa = median(results.rss_idle.get(FASTMANGO, [])), median(results.rss_idle.get(SQLALCHEMY, []))
    if not (math.isnan(idle) or math.isnan(idle_sa)):
        ratio = idle / idle_sa
        lines.append(
            f"| idle RSS within 10% of FastAPI + SQLAlchemy | {idle:.1f} vs {idle_sa:.1f} MiB ({ratio - 1:+.1%}) | "
            f"{'yes' if ratio <= 1.10 else 'NO'} |"
        )
    return [*lines, ""]


def admin_goal(results: Results) -> list[str]:
    """Issue 16's goal, from the statements read: the admin's pages of the large table run no COUNT."""
    reads = results.admin_reads
    if not all(key in reads for key in admin_list.ADMIN_VARIANTS):
        return []
    parts = [
        f"{_SHORT[key]}: {_counted(reads[key])}"
        for key in (*admin_list.ADMIN_VARIANTS, admin_list.CRUD)
        if key in reads
    ]
    met = "yes" if not any(reads[key].counts for key in admin_list.ADMIN_VARIANTS) else "NO"
    goal = f"admin list of a {common.ENTRY_ROWS:,}-row table: no COUNT"
    return [f"| {goal} | {'; '.join(parts)} (the statements one request runs, read from the app) | {met} |"]


_SHORT = {admin_list.FIRST: "first page", admin_list.KEYSET: "keyset page", admin_list.CRUD: "CRUD offset page"}


def _counted(read: admin_list.Read) -> str:
    """``no COUNT``, ``1 COUNT``, ``1 COUNT (capped: over a LIMIT subquery)``."""
    found = read.counts
    if not found:
        return "no COUNT"
    capped = sum(statements.is_capped_count(sql) for sql in found)
    how = f" ({capped} capped: over a LIMIT subquery)" if capped and capped < len(found) else ""
    how = " (capped: over a LIMIT subquery)" if capped == len(found) else how
    return f"{len(found)} COUNT{'s' if len(found) > 1 else ''}{how}"


def admin_section(results: Results) -> list[str]:
    """fastmango's admin list of ``benchentry`` against the CRUD offset page: load, statements, totals."""
    if not results.admin_load:
        return []
    rounds = max(len(runs) for runs in results.admin_load.values())
    lines = [
        f"fastmango only: `{common.ENTRY_TABLE}`, a table of its own with {common.ENTRY_ROWS:,} rows (id, title, "
        "pages, published; no foreign key), registered in the bench app's admin "
        f'(`admin.register(BenchEntry)`, default ordering `-id`) and on a `CRUDRouter(pagination="offset")` at '
        f"`{common.ENTRIES_PATH}`. Every request carries the Bearer token of a staff superuser (created in the "
        "bench database through `User.objects.create_superuser`, logged in with `POST /auth/token` when the "
        "process starts), the CRUD requests too, so that all three pay the same authentication. Same wrk "
        f"settings as above; {rounds} round(s), each a fresh process; medians. The statements are those one "
        "request runs (its authentication's too; transaction control left out), read once per variant in the "
        "first round, before any load and after one unrecorded request, through fastmango's query hook "
        f"(`fastmango.db.hook.subscribe`, from the bench app's `{statements.PATH}`). A COUNT of a subquery with "
        f"a LIMIT (capped) reads at most that many rows (the admin's exact count stops at "
        f"{checks.ADMIN_COUNT_LIMIT:,} + 1), yet is a COUNT.",
        "",
        "| variant | req/s | CPU us/req | p50 ms | p99 ms | spread | statements | COUNT | total answered |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for key, label in admin_list.VARIANTS:
        runs = results.admin_load.get(key, [])
        row = _medians(runs)
        read = results.admin_reads.get(key)
        spread = f"{row['spread']:.0f}%" if not math.isnan(row["spread"]) else "-"
        if row["errors"]:
            spread += f", {int(row['errors'])} errors"
        cells = [label, _num(row["rps"]), _num(row["cpu"]), _num(row["p50"], 2), _num(row["p99"], 2), spread]
        cells += [str(len(read.statements)), _counted(read), _total(read)] if read else ["-", "-", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for key, label in admin_list.VARIANTS:
        read = results.admin_reads.get(key)
        if read is None:
            continue
        lines += [f"{label}: `GET {read.path}` answered {read.status} after running", ""]
        for number, sql in enumerate(read.statements, 1):
            mark = " **(COUNT)**" if statements.is_count(sql) else ""
            lines.append(f"{number}. `{sql}`{mark}")
        lines.append("")
    return lines


def _total(read: admin_list.Read) -> str:
    if read.total is None:
        return "-"
    if read.total_is_estimate is None:
        return f"`total` {read.total:,}"
    return f"`total` {read.total:,}, `total_is_estimate` {str(read.total_is_estimate).lower()}"


def plan_cache_lines(results: Results) -> list[str]:
    """fastmango's plan cache after each round's load, in the app's process (issue 14): hit rate and size."""
    if not results.plan_cache:
        return []
    lines = [
        "Read from the fastmango app after all endpoints were loaded, once per round (a fresh process each round: "
        "the counters cover the warm-up and measured runs of every endpoint), through "
        f"`{plan_cache.STATS_PATH}`, which calls `{plan_cache.MODULE}.{plan_cache.FUNCTION}()` when it exists.",
        "",
    ]
    lines += [f"- round {n}: {plan_cache.describe(stats)}" for n, stats in enumerate(results.plan_cache, 1)]
    return [*lines, ""]


def document(plan: Plan, results: Results, environment: str, command: str) -> str:
    """The whole RESULTS.md."""
    load = "; ".join(f"{moment}: {' / '.join(f'{x:.2f}' for x in values)}" for moment, values in results.load_average)
    lines = [
        "# HTTP benchmark",
        "",
        f"The same {len(plan.endpoints)} endpoints served by {len(plan.apps)} apps over one PostgreSQL database "
        "(`benchbook`, 10,000 rows with a "
        "foreign key to `benchauthor`, 100 rows), loaded with wrk. Written by "
        "[tools/bench/http](http/) (`make bench`); do not edit by hand.",
        "",
        f"    {command}",
        "",
        f"- {environment}",
        f"- wrk: 1 thread, {CONNECTIONS} keep-alive connections; {plan.warmup:g} s warm-up then {plan.duration:g} s "
        f"measured per endpoint; apps interleaved (A B C D E) for {plan.rounds} round(s), each round a fresh "
        "process; medians over rounds. `spread` is (max - min) / median of req/s across rounds.",
        "- Ratios: `/floor` and `/SQLAlchemy` divide the app's figure by app 5's (FastAPI + raw asyncpg + orjson) and "
        "app 2's (FastAPI + SQLAlchemy ORM). For req/s higher is better; for latency lower is better.",
        f"- Load average (1/5/15 min) {load}. The benchmark alone keeps about 2 processes busy (app, and wrk with "
        "PostgreSQL); more means other work shared the machine, which shows up as spread between rounds.",
        "- `CPU us/req`: the server process's user + system CPU time during the measured run divided by the requests "
        "served. Unlike req/s it hardly moves when other work takes turns on the server's core, so it is the "
        "steadier figure on a busy machine.",
        f"- Whole run: {results.seconds / 60:.1f} min.",
        "",
        "### Requests per second and latency",
        "",
    ]
    for endpoint in plan.endpoints:
        lines += endpoint_table(plan, results, endpoint)
    admin_lines = admin_section(results)
    if admin_lines:
        lines += [f"### Admin list on a {common.ENTRY_ROWS:,}-row table", "", *admin_lines]
    lines += [
        "### Start-up and memory",
        "",
        f"Start-up: from spawning the server process to the first 200 on `/health` (median of "
        f"{plan.startup_samples} starts, min-max in brackets); each app connects to the database as it normally "
        "does (fastmango pings it in its lifespan, the floor opens its pool, SQLAlchemy and Django connect on first "
        "use). Idle RSS: 0.3 s after that first 200; after load: once all endpoints were loaded (median of rounds). "
        "For gunicorn, the worker's RSS (the master is not counted).",
        "",
        *resources_table(plan, results),
    ]
    cache_lines = plan_cache_lines(results)
    if cache_lines:
        lines += ["### fastmango's plan cache", "", *cache_lines]
    goal_lines = goals(plan, results)
    if goal_lines:
        lines += ["### fastmango's goals", "", *goal_lines]
    lines += ["### Setup", "", *SETUP, *(f"- {note}" for note in results.notes), ""]
    if FINDINGS.is_file():  # what profiling found, written by hand next to the generated tables
        lines += ["### What was found", "", FINDINGS.read_text(encoding="utf-8").strip(), ""]
    return "\n".join(lines)


FINDINGS = Path(__file__).resolve().parent.parent / "FINDINGS.md"

SETUP = [
    "- Same database, same data, same JSON: every app answers `GET /books/{pk}` and the items of `GET /books` as "
    '`{"id", "title", "pages", "published", "author_id", "author": {"id", "name"}}`, the list as fastmango\'s cursor '
    'page `{"items", "next", "limit"}` (20 rows fetched as 21 with one JOIN, ordered by id; no COUNT), and '
    "`POST /books` validates the body and answers 201 with the created row and its author. The harness checks "
    "every answer before timing (tools/bench/http/checks.py).",
    '- The client list scenarios (issue 14) are `GET /catalog`, an offset page `{"items", "total", "limit", '
    '"offset"}` of 20 rows with the author, and its COUNT: `?ordering=-published` (`published` is indexed; the '
    "primary key breaks ties), `?author_id=N&search=D` (a random author and digit: title contains D, any case; "
    "ordered by id) and `?offset=` one of the first 10 pages. fastmango: a second `CRUDRouter(BenchBook, "
    'pagination="offset", filter_fields=["author_id"], search_fields=["title"], ordering_fields=["published", '
    '"pages"])`; floor: the two statements fastmango sends for the request (same clauses, LEFT OUTER JOIN, casts and '
    "LIKE escape), on one pooled connection; SQLAlchemy: `select()` + `joinedload` and a `func.count()` with the "
    "same conditions (`icontains(autoescape=True)`); DRF: `ListAPIView` with `SearchFilter`, `OrderingFilter` (plus "
    "the id tie-breaker, invalid fields refused) and `LimitOffsetPagination`, the author filter in `get_queryset` "
    'as DRF\'s filtering guide shows; Ninja: a `FilterSchema` (`FilterLookup("title__icontains")`), `acount()` '
    "and `async for` over the slice. Every app refuses an ordering field it does not offer with a 400.",
    '- 1 fastmango: `FastMango(settings=Settings(env="prod", log_level="WARNING", ...))` with its default plugins '
    "(database, auth: the authentication middleware runs on every request; request-id middleware) and "
    '`CRUDRouter(BenchBook, select_related=["author"], permissions=False, pagination="cursor")`.',
    "- 2 FastAPI + SQLAlchemy 2 async ORM (asyncpg) as the docs show: session dependency, `select()` + "
    "`joinedload`, Pydantic response models from attributes; create = add, commit, refresh.",
    "- 3 Django REST Framework: `ModelSerializer` with a nested author, generic views, JSON renderer/parser only, "
    "served by gunicorn with 1 gthread worker and 16 threads (a WSGI app under its usual server; one persistent "
    "connection per thread).",
    "- 4 Django Ninja, async views with Django's async ORM (`aget`, `acreate`, `async for`), served by uvicorn "
    "through Django's ASGI handler; Django runs the queries, and each sync-style middleware, in its one sync "
    "thread (a thread hop each); psycopg's pool (Django 5.1+) since persistent connections leak under ASGI.",
    "- 5 floor: FastAPI + a raw asyncpg pool + orjson, hand-written SQL (create is one `INSERT ... RETURNING` "
    "joined to the author), body validated by Pydantic.",
    "- Every app: one process, DEBUG off, no access log, pools of 16 connections, as many as wrk's connections "
    "(fastmango `database_pool_size=16`; SQLAlchemy `pool_size=16`; asyncpg `max_size=16`; DRF 16 persistent "
    "connections, one per thread; Ninja psycopg pool `max_size=16`). ASGI apps under uvicorn with uvloop and "
    "httptools.",
    "- Django 5.2 (the last release line for Python 3.11) with `startproject`'s middleware.",
]
