"""Shared fixtures: every test runs in a clean environment, away from the developer's own settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

_SETTINGS_VARIABLES = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "FASTMANGO_APP")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test starts in an empty folder with no settings variables set."""
    for name in list(os.environ):
        if name in _SETTINGS_VARIABLES or (name.startswith("FASTMANGO_") and not name.startswith("FASTMANGO_TEST_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield
