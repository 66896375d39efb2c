"""ORM fixtures: ``db`` runs a test once on SQLite and once on PostgreSQL, with the test models' tables."""

from __future__ import annotations

import asyncio
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from fastmango import db as fdb
from fastmango.testing import postgres_url_or_skip
from tests.db import models  # noqa: F401  (registers the tables)

TABLES = ["booktag", "book", "tag", "author", "publisher"]


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
                await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        await fdb.disconnect()
