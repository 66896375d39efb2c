"""Find the PostgreSQL and Redis servers that tests use; skip without them locally, fail without them in CI.

Under pytest-xdist (``pytest -n 4``) each worker gets its own PostgreSQL database (``<name>_gw0``, created on
first use, beside the configured one) and its own Redis database number (counting down from the configured one),
so tests that empty a database or read a queue never meet another worker's rows and keys.
"""

from __future__ import annotations

import functools
import os
import socket
from urllib.parse import urlsplit, urlunsplit

import pytest

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def in_ci() -> bool:
    """Whether this run is CI (``CI=true``), where a missing server is a failure rather than a skip."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_reachable(url: str, default_port: int, timeout: float = 1.0) -> bool:
    """Whether a TCP connection to the host and port of ``url`` succeeds within ``timeout`` seconds."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=timeout):
            return True
    except OSError:
        return False


def _require(url: str, default_port: int, what: str, variable: str) -> str:
    if service_reachable(url, default_port):
        return url
    message = f"{what} is not reachable at {urlsplit(url).netloc}; start it or set {variable}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: tests that need {what} fail instead of skipping)", pytrace=False)
    pytest.skip(message)


def xdist_worker() -> int | None:
    """This process's pytest-xdist worker number (``gw2`` is 2), or None outside a parallel run."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    number = name.removeprefix("gw")
    return int(number) if name.startswith("gw") and number.isdigit() else None


def postgres_url_or_skip() -> str:
    """The test PostgreSQL URL (``FASTMANGO_TEST_POSTGRES_URL``); skips (or fails in CI) when unreachable.

    Under pytest-xdist, the URL of this worker's own database (``<name>_gw<n>``), created if missing.
    """
    url = _require(
        os.environ.get("FASTMANGO_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        5432,
        "PostgreSQL",
        "FASTMANGO_TEST_POSTGRES_URL",
    )
    worker = xdist_worker()
    return url if worker is None else _worker_database(url, worker)


def redis_url_or_skip() -> str:
    """The test Redis URL (``FASTMANGO_TEST_REDIS_URL``); skips (or fails in CI) when unreachable.

    Under pytest-xdist, worker ``n`` uses the database ``n`` below the configured one (modulo Redis' 16).
    """
    url = _require(
        os.environ.get("FASTMANGO_TEST_REDIS_URL", DEFAULT_REDIS_URL), 6379, "Redis", "FASTMANGO_TEST_REDIS_URL"
    )
    worker = xdist_worker()
    if worker is None:
        return url
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base - worker) % 16}"))


@functools.cache
def _worker_database(url: str, worker: int) -> str:
    from fastmango.testing.database import create_database_if_missing

    head, _, name = url.rpartition("/")
    own = f"{head}/{name}_gw{worker}"
    create_database_if_missing(own)
    return own
