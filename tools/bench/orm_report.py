"""The results as markdown: one table per database, microseconds per call and ratios."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tools.bench.orm_harness import CpuSample, Workload
from tools.bench.plan_cache import describe

#: The rows of the CPU table that are not the raw driver's (that one is named after the driver).
FASTMANGO_ROW, SQLALCHEMY_ROW, CORE_ROW = "fastmango", "SQLAlchemy ORM", "SQLAlchemy Core"
#: What each row of the CPU table runs; the raw driver's by driver name.
CPU_CALLS = {
    FASTMANGO_ROW: '`await Book.objects.filter(pages__gt=n).select_related("author").order_by("id")[:20]`',
    SQLALCHEMY_ROW: "`select(Book).options(joinedload(Book.author)).where(...).order_by(Book.id).limit(20)` in a "
    "session, entities",
    CORE_ROW: "`select(book.c.id, ..., author.c.name).join(author, ...).where(book.c.pages > n)"
    ".order_by(book.c.id).limit(20)` built per call, `(await conn.execute(stmt)).all()` on the ORM's engine, "
    "rows built into the same dicts",
}
RAW_CALLS = {
    "asyncpg": "`pool.fetch(sql, n)` of the same JOIN, rows built into dicts with the author nested",
    "aiosqlite": "`conn.execute_fetchall(sql, (n,))` of the same JOIN, rows built into dicts with the author nested",
}
#: Issue 14's goal on PostgreSQL: fastmango's CPU per call at most this multiple of asyncpg's.
CPU_GOAL = 1.5
HEADER = "| operation | fastmango us | SQLAlchemy us | raw us | fastmango/SQLAlchemy | fastmango/raw |"


@dataclass(frozen=True)
class DatabaseResult:
    """The medians measured on one database.

    Attributes:
        label: "SQLite" or "PostgreSQL".
        version: The server's (or SQLite library's) version.
        raw: The raw driver's name.
        timings: Operation label -> implementation name -> median microseconds per call.
        note: A sentence printed under the table (how the server was pinned), or "".
        cpu: Elapsed and in-process CPU time of the 20-row read with its relation, by :func:`cpu_rows` name
            (the raw row under the driver's name).
        plan_cache: fastmango's plan-cache counters over the timed calls (None: no plan cache).
    """

    label: str
    version: str
    raw: str
    timings: Mapping[str, Mapping[str, float]]
    note: str = ""
    cpu: Mapping[str, CpuSample] | None = None
    plan_cache: Mapping[str, float] | None = None


def format_us(value: float) -> str:
    """Microseconds, with one decimal below 100."""
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def table(result: DatabaseResult) -> str:
    """The markdown table of one database, under a heading."""
    lines = [
        f"### {result.label} {result.version} (raw = {result.raw})",
        "",
        HEADER,
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, timings in result.timings.items():
        fastmango, sqlalchemy, raw = timings["fastmango"], timings["SQLAlchemy"], timings[result.raw]
        cells = [label, format_us(fastmango), format_us(sqlalchemy), format_us(raw)]
        cells += [f"{fastmango / sqlalchemy:.2f}", f"{fastmango / raw:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if result.note:
        lines += ["", result.note]
    if result.cpu:
        lines += ["", *cpu_table(result)]
    lines += ["", f"fastmango's plan cache over the timed calls: {describe(result.plan_cache)}."]
    return "\n".join(lines)


def cpu_rows(raw: str) -> dict[str, str]:
    """The rows of the CPU table, in order, and what each runs: the raw driver ``raw`` last."""
    return {**CPU_CALLS, raw: RAW_CALLS[raw]}


def cpu_table(result: DatabaseResult) -> list[str]:
    """In-process CPU per call of the 20-row read with its relation, the raw driver as the reference row."""
    assert result.cpu is not None
    cpu, raw = result.cpu, result.raw
    floor = cpu[raw]
    lines = [
        "#### In-process CPU per call: filter + select_related, 20 rows",
        "",
        "CPU time of this process (`time.process_time()`, every thread) per call; elapsed time beside it. "
        + cpu_scope(raw),
        "",
        f"| implementation | call | CPU us | CPU /{raw} | elapsed us | elapsed /{raw} |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, call in cpu_rows(raw).items():
        sample = cpu[name]
        cells = [name, call, format_us(sample.cpu_us), f"{sample.cpu_us / floor.cpu_us:.2f}"]
        cells += [format_us(sample.wall_us), f"{sample.wall_us / floor.wall_us:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, "", cpu_goal(result)]


def cpu_scope(raw: str) -> str:
    """What the CPU time holds besides the library's own work, on the database of driver ``raw``."""
    if raw == "aiosqlite":
        return (
            "SQLite runs inside this process (on aiosqlite's thread), so its work on the query is in every row's "
            "CPU time too."
        )
    return "The database server's work is not in it."


def cpu_goal(result: DatabaseResult) -> str:
    """Issue 14's goal for this database and whether it was met: within :data:`CPU_GOAL` times asyncpg's CPU
    on PostgreSQL, below SQLAlchemy Core's on SQLite."""
    assert result.cpu is not None
    fastmango = result.cpu[FASTMANGO_ROW].cpu_us
    if result.raw == "aiosqlite":
        ratio = fastmango / result.cpu[CORE_ROW].cpu_us
        met = "met" if ratio < 1 else "NOT met"
        return f"Goal (issue 14): fastmango's CPU below SQLAlchemy Core's on SQLite: {ratio:.2f}x, {met}."
    ratio = fastmango / result.cpu[result.raw].cpu_us
    met = "met" if ratio <= CPU_GOAL else "NOT met"
    return f"Goal (issue 14): fastmango's CPU within {CPU_GOAL}x asyncpg's: {ratio:.2f}x, {met}."


def document(results: list[DatabaseResult], workload: Workload, environment: str, command: str) -> str:
    """The whole report: how it was measured, then a table per database."""
    intro = (
        f"Median of {workload.repeats} repetitions of the mean time per call, in microseconds: "
        f"{workload.iterations} calls per repetition ({workload.bulk_iterations} for bulk_create, "
        f"{workload.bulk_size:,} rows per call), implementations interleaved. "
        f"{workload.rows:,} books over {workload.authors} authors. Rows added by create and bulk_create are "
        "deleted after each timed batch, outside the timing. Lower is better; a ratio above 1 means fastmango "
        "is slower. SQLAlchemy is its async ORM as the docs show it (default engine options but fastmango's pool size, "
        "`async_sessionmaker(expire_on_commit=False)`, one session per operation); raw is hand-written SQL on the "
        "driver, and its bulk insert (`executemany`) does not fetch the new primary keys, which both ORMs set on "
        f"every object. {environment}"
    )
    parts = ["## ORM micro-benchmark", "", intro, "", f"Reproduce: `{command}`"]
    for result in results:
        parts += ["", table(result)]
    return "\n".join(parts) + "\n"
