"""Smoke test of ``tools/bench/orm.py``: a tiny SQLite-only run prints a complete table of the five operations
and the in-process CPU table with its goal line. Timings are never asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ["get by pk", "filter + select_related, 20 rows", "create one", "bulk_create 50", "count (filtered)"]
CPU_ROWS = ["fastmango", "SQLAlchemy ORM", "SQLAlchemy Core", "aiosqlite"]
SQLITE_GOAL = re.compile(
    r"^Goal \(issue 14\): fastmango's CPU below SQLAlchemy Core's on SQLite: [\d.]+x, (met|NOT met)\.$"
)


def tables(markdown: str) -> list[list[list[str]]]:
    """The body rows of each markdown table, in order, as lists of cells (header and rule left out)."""
    found: list[list[list[str]]] = []
    previous = ""
    for line in markdown.splitlines():
        if line.startswith("| ") and previous.startswith("|---"):
            found.append([])
        if line.startswith("| ") and found and not line.startswith(("| operation", "| implementation")):
            found[-1].append([cell.strip() for cell in line.strip("|").split("|")])
        previous = line if line.startswith("|") else ""
    return found


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


def test_tiny_sqlite_run_prints_the_operations_and_cpu_tables(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    command = [sys.executable, "-m", "tools.bench.orm", "--sqlite-only", "--iterations", "3", "--repeats", "1"]
    command += ["--rows", "200", "--bulk-size", "50", "--output", str(output)]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert "### SQLite" in completed.stdout
    assert "PostgreSQL" not in completed.stdout.split("### SQLite", 1)[1]
    operations, cpu = tables(completed.stdout)
    assert [row[0] for row in operations] == OPERATIONS
    for row in operations:
        assert len(row) == 6
        for cell in row[1:]:
            assert number(cell) > 0, row
    assert "| implementation | call | CPU us | CPU /aiosqlite | elapsed us | elapsed /aiosqlite |" in completed.stdout
    assert [row[0] for row in cpu] == CPU_ROWS
    for row in cpu:
        assert len(row) == 6
        for cell in row[2:]:
            assert number(cell) > 0, row
    assert cpu[-1][3] == cpu[-1][5] == "1.00"
    assert any(SQLITE_GOAL.match(line) for line in completed.stdout.splitlines()), completed.stdout
    assert output.read_text() == completed.stdout
