from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import fastmango
from fastmango.core.errors import ProjectNotFound

FASTMANGO = str(Path(sys.executable).parent / "fastmango")


def test_setup_outside_a_project_names_the_fix() -> None:
    with pytest.raises(ProjectNotFound, match="fastmango init NAME"):
        fastmango.setup()


def test_setup_in_a_script_loads_settings_and_connects_the_database(tmp_path: Path) -> None:
    subprocess.run([FASTMANGO, "init", "scripted"], check=True, capture_output=True, timeout=60)
    script = (
        "import asyncio, fastmango\n"
        "from sqlalchemy import text\n"
        "app = fastmango.setup()\n"
        "print(app.settings.project_name)\n"
        "async def main():\n"
        "    db = fastmango.db.get_database()\n"
        "    async with db.engine.connect() as conn:\n"
        "        print((await conn.execute(text('select 40 + 2'))).scalar())\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path / "scripted" / "scripted",
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path}/script.sqlite3"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["scripted", "42"]
    assert (tmp_path / "script.sqlite3").exists()
