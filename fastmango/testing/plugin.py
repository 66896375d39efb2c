"""The fastmango pytest plugin: fixtures for the real PostgreSQL and Redis servers."""

from __future__ import annotations

import pytest

from fastmango.testing.services import postgres_url_or_skip, redis_url_or_skip


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the test PostgreSQL database; skips when absent, fails under ``CI=true``."""
    return postgres_url_or_skip()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the test Redis database; skips when absent, fails under ``CI=true``."""
    return redis_url_or_skip()
