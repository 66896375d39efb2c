"""fastmango.testing.database: a project's pytest run uses a throwaway database, emptied after each test."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fastmango.cli import app
from fastmango.cli.main import _register_commands
from fastmango.testing.database import project_under_test

ISOLATION = """
from fastmango.auth import User, Permission


async def test_a_writes_a_user() -> None:
    await User.objects.create_user("first", password="pw-pw-pw-pw")
    assert await User.objects.count() == 1


async def test_b_starts_from_the_migrated_database() -> None:
    assert await User.objects.count() == 0
    assert await Permission.objects.filter(codename="auth_user.view").exists()  # kept: made by migrate


def test_c_the_test_database_is_not_the_development_one(fastmango_database: str) -> None:
    import os

    assert os.environ["FASTMANGO_ENV"] == "test"
    assert fastmango_database == os.environ["DATABASE_URL"]
    assert "db.sqlite3" not in fastmango_database
"""


def make_project(folder: Path) -> Path:
    _register_commands()
    result = CliRunner().invoke(app, ["init", "shop", "--directory", str(folder / "shop")])
    assert result.exit_code == 0, result.output
    return folder / "shop"


def pytest_in(root: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTMANGO_") and k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        env={**env, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_each_test_starts_from_the_migrated_test_database(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "tests" / "test_isolation.py").write_text(ISOLATION)
    dev = root / "db.sqlite3"
    with sqlite3.connect(dev) as connection:  # a development database with a table of its own
        connection.execute("CREATE TABLE mine (id INTEGER PRIMARY KEY)")
        connection.execute("INSERT INTO mine VALUES (1)")

    result = pytest_in(root)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout
    with sqlite3.connect(dev) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"mine"}  # the tests migrated and wrote elsewhere
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("shop-test-*"))  # and removed it at the end


def test_pytest_outside_a_project_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert project_under_test(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    monkeypatch.setenv("FASTMANGO_APP", "x.app:app")  # a shell that names an app is not a project to take over
    assert project_under_test(tmp_path) is None
    monkeypatch.delenv("FASTMANGO_APP")
    (tmp_path / "pyproject.toml").write_text('[tool.fastmango]\napp = "x.app:app"\ntest_database = false\n')
    assert project_under_test(tmp_path) is None
