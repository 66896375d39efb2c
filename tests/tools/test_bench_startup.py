"""Smoke test of ``tools/bench/startup.py``: one round on a fresh project reports the three commands.
Timings are never asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ["`fastmango dev` (reload)", "`fastmango dev --no-reload`", "`uvicorn demo.app:app` (prod profile)"]


def test_one_round_reports_the_dev_no_reload_and_production_commands(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    command = [sys.executable, "-m", "tools.bench.startup", "--rounds", "1", "--warmups", "0", "--output", str(output)]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in completed.stdout.splitlines()
        if line.startswith("| `")
    ]
    assert [row[0] for row in rows] == COMMANDS
    for row in rows:
        assert row[1] == "this checkout"
        assert all(float(cell) > 0 for cell in row[2:]), row
    assert output.read_text() == completed.stdout
