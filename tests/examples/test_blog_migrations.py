"""The example blog's committed migrations run forward, back to zero and forward again on both databases."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import _admin

BLOG = Path(__file__).resolve().parents[2] / "examples" / "blog"
FASTMANGO = str(Path(sys.executable).parent / "fastmango")


def fastmango(root: Path, url: str, *args: str) -> str:
    result = subprocess.run(
        [FASTMANGO, *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATABASE_URL": url},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/blog.sqlite3"
    base = request.getfixturevalue("postgres_url")
    name = f"fm_blog_{uuid.uuid4().hex[:8]}"
    _admin(base, f'CREATE DATABASE "{name}"')
    request.addfinalizer(lambda: _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return base.rsplit("/", 1)[0] + f"/{name}"


def test_blog_migrates_up_down_and_up_again(tmp_path: Path, database_url: str) -> None:
    root = tmp_path / "blog"
    shutil.copytree(BLOG, root, ignore=shutil.ignore_patterns("*.sqlite3", "__pycache__"))
    assert "Applied" in fastmango(root, database_url, "migrate")
    assert "[X]" in fastmango(root, database_url, "showmigrations")
    assert "No changes detected" in fastmango(root, database_url, "makemigrations")
    assert "Reverted" in fastmango(root, database_url, "migrate", "zero")
    assert "[ ]" in fastmango(root, database_url, "showmigrations")
    assert "Applied" in fastmango(root, database_url, "migrate")
    seeded = subprocess.run(
        [sys.executable, "-m", "blog.seed"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATABASE_URL": database_url},
    )
    assert seeded.returncode == 0, seeded.stderr
