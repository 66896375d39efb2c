"""The browser of the UI tests: Debian's Chromium driven by Playwright's sync API, one per test module.

A test module imports the fixture (``from tests.browser import browser``), opens its pages with
:func:`opened_page` and saves screenshots with :func:`screenshot`. Without Playwright or Chromium the tests skip
locally and fail in CI.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
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


@contextmanager
def opened_page(browser: Any, base_url: str, *, timeout: int = 10_000, **options: Any) -> Iterator[Any]:
    """A page in a fresh browser context (``options``: the context's, such as ``viewport``), closed afterwards; the
    page must not have raised an uncaught error."""
    context = browser.new_context(base_url=base_url, **options)
    context.set_default_timeout(timeout)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert errors == []  # no uncaught exception in the page


def screenshot(page: Any, folder: str | None, name: str, *, max_bytes: int | None = None, **options: Any) -> None:
    """Save ``page`` as ``<name>.png`` in ``folder`` (from the repository's root); nothing when it is None. A module
    reads the folder from its environment variable at import, before the suite's settings isolation clears it."""
    if not folder:
        return
    path = ROOT / folder / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), **options)
    if max_bytes is not None:
        assert path.stat().st_size < max_bytes, f"{path} is {path.stat().st_size} bytes"
