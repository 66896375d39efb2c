"""The results as markdown: one table per database, microseconds per call and ratios."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tools.bench.orm_harness import Workload

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
    """

    label: str
    version: str
    raw: str
    timings: Mapping[str, Mapping[str, float]]
    note: str = ""


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
    return "\n".join(lines)


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
