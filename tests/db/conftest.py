"""ORM fixtures: ``db`` runs a test once on SQLite and once on PostgreSQL, with the test models' tables."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from fastmango import db as fdb
from tests.db import models  # noqa: F401  (registers the tables)

TABLES = ["booktag", "book", "tag", "author", "publisher"]


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest) -> AsyncIterator[fdb.Database]:
    """A connected database with empty test tables, on each backend in turn."""
    url = "sqlite:///:memory:" if request.param == "sqlite" else request.getfixturevalue("postgres_database")
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
