"""The browser of the UI tests: Debian's Chromium driven by Playwright's sync API, one per test module.

A test module imports the fixture (``from tests.browser import browser``). Without Playwright or Chromium the
tests skip locally and fail in CI.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

#: Playwright's assertions wait this long (ms): the suite runs on several workers of a 2-core machine.
EXPECT_TIMEOUT = 15_000


def missing(message: str) -> None:
    """Fail under ``CI=true``, skip elsewhere: what is missing is part of the machine, not of the code."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope: Playwright's sync API keeps an event loop running in this thread while it is started, which
    # async tests after the module cannot share.
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        missing("Playwright for Python is needed (pip install playwright)")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        missing("Chromium is needed (apt-get install chromium)")
    expect.set_options(timeout=EXPECT_TIMEOUT)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()
