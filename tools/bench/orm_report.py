"""The results as markdown: one table per database, microseconds per call and ratios."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tools.bench.orm_harness import CpuSample, Workload
from tools.bench.plan_cache import describe

#: The rows of the CPU table and what each runs.
FASTMANGO_ROW, SQLALCHEMY_ROW, ASYNCPG_ROW = "fastmango", "SQLAlchemy ORM", "asyncpg"
CPU_ROWS = {
    FASTMANGO_ROW: '`await Book.objects.filter(pages__gt=n).select_related("author").order_by("id")[:20]`',
    SQLALCHEMY_ROW: "`select(Book).options(joinedload(Book.author)).where(...).order_by(Book.id).limit(20)` in a "
    "session, entities",
    ASYNCPG_ROW: "`pool.fetch(sql, n)` of the same JOIN, rows built into dicts with the author nested",
}
#: Issue 14's goal: fastmango's CPU per call at most this multiple of asyncpg's.
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
        cpu: Elapsed and in-process CPU time of the 20-row read with its relation, by :data:`CPU_ROWS` name
            (PostgreSQL only: the asyncpg row).
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
        lines += ["", *cpu_table(result.cpu)]
    lines += ["", f"fastmango's plan cache over the timed calls: {describe(result.plan_cache)}."]
    return "\n".join(lines)


def cpu_table(cpu: Mapping[str, CpuSample]) -> list[str]:
    """In-process CPU per call of the 20-row read with its relation, asyncpg as the reference row."""
    floor = cpu[ASYNCPG_ROW]
    lines = [
        "#### In-process CPU per call: filter + select_related, 20 rows",
        "",
        "CPU time of this process (`time.process_time()`) per call, so the database server's work is not in it; "
        "elapsed time beside it.",
        "",
        "| implementation | call | CPU us | CPU /asyncpg | elapsed us | elapsed /asyncpg |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, call in CPU_ROWS.items():
        sample = cpu[name]
        cells = [name, call, format_us(sample.cpu_us), f"{sample.cpu_us / floor.cpu_us:.2f}"]
        cells += [format_us(sample.wall_us), f"{sample.wall_us / floor.wall_us:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    ratio = cpu[FASTMANGO_ROW].cpu_us / floor.cpu_us
    met = "met" if ratio <= CPU_GOAL else "NOT met"
    lines += ["", f"Goal (issue 14): fastmango's CPU within {CPU_GOAL}x asyncpg's: {ratio:.2f}x, {met}."]
    return lines


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
