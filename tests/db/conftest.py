"""ORM fixtures: ``db`` runs a test once on SQLite and once on PostgreSQL, with the test models' tables."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from fastmango import db as fdb
from fastmango.db import hook, plans
from fastmango.db.execute import configure_plan_cache
from tests.db import models  # noqa: F401  (registers the tables)

TABLES = ["booktag", "book", "tag", "author", "publisher"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``db`` runs each test on SQLite and PostgreSQL; the QuerySet spec suites (test_spec_*) also run with the
    plan cache off, so a cached plan is proven to answer as a freshly built one does."""
    if "db" not in metafunc.fixturenames:
        return
    backends = ["sqlite", "postgres"]
    if metafunc.module.__name__.rsplit(".", 1)[-1].startswith("test_spec_"):
        backends += ["sqlite-uncached", "postgres-uncached"]
    metafunc.parametrize("db", backends, indirect=True)


@pytest.fixture
def quiet_sql_echo() -> Iterator[None]:
    """For a test that turns SQL echo on: turned off again afterwards (echo is process-wide, and the INFO lines it
    leaves on would reach the log assertions of later tests in the same worker)."""
    logger = logging.getLogger("fastmango.db.sql")
    level = logger.level
    try:
        yield
    finally:
        hook.unsubscribe(hook.log_statement)
        logger.setLevel(level)


@pytest.fixture
async def db(request: pytest.FixtureRequest) -> AsyncIterator[fdb.Database]:
    """A connected database with empty test tables, on each backend in turn (``-uncached``: no plan cache)."""
    backend, _, cache = request.param.partition("-")
    url = "sqlite:///:memory:" if backend == "sqlite" else request.getfixturevalue("postgres_database")
    size = plans.cache.size
    if cache == "uncached":
        configure_plan_cache(0)
        plans.cache.clear()
    request.addfinalizer(lambda: configure_plan_cache(size))
    database = await fdb.connect(url)
    async with database.engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=[SQLModel.metadata.tables[t] for t in TABLES])
    try:
        yield database
    finally:
        if database.dialect == "postgresql":
            async with database.engine.begin() as conn:
                # A test that failed inside iterator() may leave its transaction open until garbage collection;
                # end such sessions instead of waiting on their locks forever.
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
                    )
                )
                await conn.execute(text("SET LOCAL lock_timeout = '20s'"))
                await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        await fdb.disconnect()
