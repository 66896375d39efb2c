"""Shared fixtures: every test runs in a clean environment, away from the developer's own settings."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fastmango.testing import postgres_url_or_skip
from tests.browser import browser  # noqa: F401  (the UI tests' fixture: one Chromium per module that uses it)

_SETTINGS_VARIABLES = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "FASTMANGO_APP", "FORWARDED_ALLOW_IPS")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test starts in an empty folder with no settings variables set."""
    for name in list(os.environ):
        if name in _SETTINGS_VARIABLES or (name.startswith("FASTMANGO_") and not name.startswith("FASTMANGO_TEST_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    # Usage records buffered by an earlier test's agent runs would be written into this test's database.
    metering = sys.modules.get("fastmango.ai.metering")
    if metering is not None:
        metering.meter.discard()
    yield


def _admin(url: str, statement: str) -> None:
    """Run one statement on the server, in a thread of its own (the caller may be inside an event loop)."""
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database of its own for this test session, dropped at the end."""
    base = postgres_url_or_skip()
    name = f"fm_orm_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _admin(base, f'CREATE DATABASE "{name}"')
    yield base.rsplit("/", 1)[0] + f"/{name}"
    _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def fastmango_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fastmango's wheel, built once per session from this checkout (offline: no build isolation)."""
    out = tmp_path_factory.mktemp("wheel")
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out)]
    result = subprocess.run([*command, str(root)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    [wheel] = out.glob("fastmango-*.whl")
    return wheel
