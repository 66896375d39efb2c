"""``fastmango ai usage`` (AI usage report) and ``fastmango ai cache clear``."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

import typer

from fastmango.cli.ai_commands import _load, ai
from fastmango.cli.main import fail

cache = typer.Typer(help="The AI response cache.", no_args_is_help=True)
ai.add_typer(cache, name="cache")

HEADERS = (
    "requests",
    "tool_calls",
    "input_tokens",
    "output_tokens",
    "cost",
    "cache_hit_rate",
    "cost_saved",
    "p50_ms",
    "p95_ms",
)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def render(report: dict[str, Any], fmt: str) -> str:
    """The report as a ``table``, ``json`` or ``csv``."""
    if fmt == "json":
        return json.dumps(report, indent=2, default=str)
    rows = [[row["key"], *(row[h] for h in HEADERS)] for row in report["rows"]]
    rows.append(["TOTAL", *(report["total"][h] for h in HEADERS)])
    header = [report["by"], *HEADERS]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
        return out.getvalue()
    cells = [header, *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells)


@ai.command("usage")
def usage(
    since: str = typer.Option("24h", "--since", help="24h, 7d or a date (2025-01-31)."),
    until: str | None = typer.Option(None, "--until", help="A date."),
    by: str = typer.Option("model", "--by", help="model|agent|tool|user|route|day"),
    fmt: str = typer.Option("table", "--format", help="table|json|csv"),
) -> None:
    """AI requests, tokens, cost, cache hit rate, cost saved and latency percentiles, with a totals row."""
    from fastmango.ai.usage_report import parse_time, usage_report
    from fastmango.db import disconnect

    if fmt not in {"table", "json", "csv"}:
        raise fail("--format must be table, json or csv")
    _load()

    async def report() -> dict[str, Any]:
        try:
            return await usage_report(parse_time(since), parse_time(until), by)
        finally:
            await disconnect()

    try:
        typer.echo(render(asyncio.run(report()), fmt))
    except ValueError as exc:
        raise fail(str(exc)) from None


@cache.command("clear")
def clear(agent: str | None = typer.Option(None, "--agent", help="Only this agent's cached responses.")) -> None:
    """Delete cached AI responses (and tool results, unless --agent is given)."""
    from fastmango.ai.response_cache import clear_cache

    loaded = _load()
    count = asyncio.run(clear_cache(loaded.settings, agent))
    typer.echo(f"Deleted {count} cached entr{'y' if count == 1 else 'ies'}.")
