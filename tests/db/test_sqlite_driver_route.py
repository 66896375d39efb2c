"""SQLite's direct route: outside a transaction, planned reads run on the pool's aiosqlite connection (no SQLAlchemy
execution per call), with the columns' type processing worked out once per plan; writes, ``in`` lists and the
statements of a ``transaction()`` stay with SQLAlchemy. Answers are the same either way (the QuerySet spec suites
run on SQLite in memory; this module covers a database file, whose pool holds several connections)."""

from __future__ import annotations

import asyncio
import datetime
import sqlite3
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc
from sqlmodel import SQLModel

from fastmango import db as fdb
from fastmango.db.hook import QueryEvent, listening
from fastmango.db.pg_errors import unavailable_reason
from tests.db.conftest import TABLES
from tests.db.models import Author, Book


@pytest.fixture
async def file_db(tmp_path: Path) -> AsyncIterator[fdb.Database]:
    database = await fdb.connect(f"sqlite:///{tmp_path / 'route.sqlite3'}", pool_size=4)
    async with database.engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=[SQLModel.metadata.tables[t] for t in TABLES])
    try:
        yield database
    finally:
        await fdb.disconnect()


def routes(events: list[QueryEvent]) -> list[tuple[str, str]]:
    return [(event.connection, event.sql.split()[0]) for event in events]


async def test_reads_take_the_driver_route_and_writes_do_not(file_db: fdb.Database) -> None:
    author = await Author.objects.create(name="Ann")
    events: list[QueryEvent] = []
    with listening(events.append):
        await Book.objects.create(title="A", pages=3, price=Decimal("9.50"), author_id=author.id)
        [book] = await Book.objects.select_related("author").filter(pages__gte=1)
        assert await Book.objects.filter(title="A").count() == 1
        assert await Book.objects.filter(author_id__in=[author.id]).count() == 1
        await Book.objects.filter(pk=book.id).update(pages=4)
    assert routes(events) == [
        ("sqlalchemy", "INSERT"),
        ("driver", "SELECT"),
        ("driver", "SELECT"),
        ("sqlalchemy", "SELECT"),  # an IN list: SQLite has no array parameter
        ("sqlalchemy", "UPDATE"),
    ]
    assert events[1].rows == 1 and events[1].params == (1,)


async def test_column_types_read_back_as_through_sqlalchemy(file_db: fdb.Database) -> None:
    author = await Author.objects.create(name="Ann", email=None)
    published = datetime.date(2024, 2, 29)
    await Book.objects.create(title="T", pages=7, price=Decimal("12.34"), published=published, author_id=author.id)
    [book] = await Book.objects.select_related("author")
    assert (book.published, book.price, book.author.email) == (published, Decimal("12.34"), None)
    assert isinstance(book.price, Decimal) and isinstance(book.published, datetime.date)
    assert await Book.objects.filter(published=published).values_list("price", flat=True) == [Decimal("12.34")]
    assert await Book.objects.filter(published__year=2024).exists()
    async with fdb.transaction():  # the same reads through the session answer the same
        [inside] = await Book.objects.select_related("author")
        assert (inside.published, inside.price, inside.author.email) == (published, Decimal("12.34"), None)


async def test_a_transaction_reads_its_own_writes_and_others_do_not_see_them(file_db: fdb.Database) -> None:
    author = await Author.objects.create(name="Ann")
    written, release = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with fdb.transaction():
            await Book.objects.create(title="draft", author_id=author.id)
            assert await Book.objects.filter(title="draft").count() == 1  # in the transaction's session
            written.set()
            await release.wait()

    task = asyncio.create_task(writer())
    await written.wait()
    assert await Book.objects.filter(title="draft").count() == 0  # another connection: not committed yet
    release.set()
    await task
    assert await Book.objects.filter(title="draft").count() == 1


async def test_a_locked_database_is_sqlalchemys_error_and_the_connection_stays(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    await fdb.connect(f"sqlite:///{path}", pool_size=1)
    try:
        await fdb.create_all()
        await Author.objects.create(name="Ann")
        database = fdb.get_database()
        async with database.autocommit_engine.connect() as conn:  # the pool's one connection gives up quickly
            await conn.exec_driver_sql("PRAGMA busy_timeout = 50")
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(sa_exc.OperationalError, match="database is locked") as info:
                await Author.objects.count()
            assert unavailable_reason(info.value) == "the database is locked"  # a 503 over HTTP, as before
        finally:
            other.execute("ROLLBACK")
            other.close()
        pool: Any = database.engine.sync_engine.pool
        assert pool.checkedin() == 1  # handed back, not invalidated
        assert await Author.objects.count() == 1
    finally:
        await fdb.disconnect()


async def test_a_connection_handed_back_inside_a_transaction_is_rolled_back_by_the_next_read(tmp_path: Path) -> None:
    await fdb.connect(f"sqlite:///{tmp_path / 'left-open.sqlite3'}", pool_size=1)
    try:
        await fdb.create_all()
        raw: Any = await fdb.get_database().engine.raw_connection()
        await raw.driver_connection.execute("BEGIN IMMEDIATE")  # as a cancelled transaction may leave it
        await raw.driver_connection.execute("INSERT INTO author (name) VALUES ('never committed')")
        raw.close()
        await Author.objects.count()  # read through SQLAlchemy, which rolls the leftover back on close
        async with fdb.transaction():  # so this one can begin
            await Author.objects.create(name="Ann")
        assert await Author.objects.values_list("name", flat=True) == ["Ann"]  # the uncommitted row is gone
    finally:
        await fdb.disconnect()
