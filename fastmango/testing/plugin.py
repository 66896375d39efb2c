"""The fastmango pytest plugin: fixtures for the real PostgreSQL and Redis servers, and a project's test database.

Run in a fastmango project, the plugin gives the tests a throwaway database migrated once per session and
emptied after each test (see :mod:`fastmango.testing.database`); the development database is never touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fastmango.testing import database as test_database
from fastmango.testing.services import postgres_url_or_skip, redis_url_or_skip

_STATE: dict[str, test_database.TestDatabase] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: Any, args: list[str]) -> None:
    """Point the settings at the test database before a conftest or test module imports the app."""
    project = test_database.project_under_test(early_config.rootpath)
    if project is not None:
        _STATE["database"] = test_database.prepare(project)


def pytest_report_header(config: pytest.Config) -> str | None:
    database = _STATE.get("database")
    return test_database.describe(database) if database is not None else None


def pytest_unconfigure(config: pytest.Config) -> None:
    database = _STATE.pop("database", None)
    if database is not None and database.temporary is not None:
        database.remove()


@pytest.fixture(scope="session")
def fastmango_database() -> Iterator[str | None]:
    """The project's test database, created and migrated for the session; its URL (None outside a project)."""
    database = _STATE.get("database")
    if database is None:
        yield None
        return
    database.create()
    database.migrate()
    yield database.url
    database.remove()


@pytest.fixture(autouse=True)
def _fastmango_clean_database(request: pytest.FixtureRequest) -> Iterator[None]:
    """In a project, each test has the ORM on the migrated test database; its rows are deleted after it.

    The connection is unpooled, so nothing outlives the test's event loop; an app started in the test
    (``app_client``) connects and disconnects on its own.
    """
    if "database" not in _STATE:
        yield
        return
    from fastmango.db import engine

    url = request.getfixturevalue("fastmango_database")
    database = engine.configure(url, pooled=False)
    try:
        yield
    finally:
        if engine._database is database:
            engine._database = None
        _STATE["database"].flush()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the test PostgreSQL database; skips when absent, fails under ``CI=true``."""
    return postgres_url_or_skip()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the test Redis database; skips when absent, fails under ``CI=true``."""
    return redis_url_or_skip()
