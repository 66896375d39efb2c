"""Find the PostgreSQL and Redis servers that tests use; skip without them locally, fail without them in CI."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

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


def postgres_url_or_skip() -> str:
    """The test PostgreSQL URL (``FASTMANGO_TEST_POSTGRES_URL``); skips (or fails in CI) when unreachable."""
    url = os.environ.get("FASTMANGO_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    return _require(url, 5432, "PostgreSQL", "FASTMANGO_TEST_POSTGRES_URL")


def redis_url_or_skip() -> str:
    """The test Redis URL (``FASTMANGO_TEST_REDIS_URL``); skips (or fails in CI) when unreachable."""
    url = os.environ.get("FASTMANGO_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    return _require(url, 6379, "Redis", "FASTMANGO_TEST_REDIS_URL")
