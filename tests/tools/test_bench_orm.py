"""Smoke test of ``tools/bench/orm.py``: a tiny SQLite-only run prints a complete table. Timings are never asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ["get by pk", "filter + select_related, 20 rows", "create one", "bulk_create 50", "count (filtered)"]


def table_rows(markdown: str) -> list[list[str]]:
    """The body rows of the markdown tables, as lists of cells."""
    rows = []
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("| operation"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_tiny_sqlite_run_prints_a_table_of_the_five_operations(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    command = [sys.executable, "-m", "tools.bench.orm", "--sqlite-only", "--iterations", "3", "--repeats", "1"]
    command += ["--rows", "200", "--bulk-size", "50", "--output", str(output)]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert "### SQLite" in completed.stdout
    assert "PostgreSQL" not in completed.stdout.split("### SQLite", 1)[1]
    rows = table_rows(completed.stdout)
    assert [row[0] for row in rows] == OPERATIONS
    for row in rows:
        assert len(row) == 6
        for cell in row[1:]:
            assert float(cell.replace(",", "")) > 0, row
    assert output.read_text() == completed.stdout
