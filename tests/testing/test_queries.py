"""``assert_max_queries`` (fastmango/testing/queries.py): a bound on a block's statements, N+1s named."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlmodel import SQLModel

from fastmango import db as fdb
from fastmango.testing import TooManyQueries, assert_max_queries
from tests.db.conftest import TABLES
from tests.db.models import Author, Book


@pytest.fixture
async def database() -> AsyncIterator[fdb.Database]:
    database = await fdb.connect("sqlite:///:memory:")
    async with database.engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=[SQLModel.metadata.tables[t] for t in TABLES])
    ada = await Author.objects.create(name="Ada")
    await Book.objects.bulk_create([Book(title=f"b{i}", pages=i, price=1, author_id=ada.id) for i in range(3)])
    yield database
    await fdb.disconnect()


async def test_a_block_within_the_bound_passes_and_yields_its_statements(database: fdb.Database) -> None:
    with assert_max_queries(1) as queries:
        books = await Book.objects.select_related("author")
    assert len(queries) == 1
    assert {book.author.name for book in books} == {"Ada"}


async def test_a_query_per_row_fails_naming_the_repeated_statement_and_the_fix(database: fdb.Database) -> None:
    with pytest.raises(TooManyQueries) as failure, assert_max_queries(2):
        for book in await Book.objects.all():
            await Author.objects.get(pk=book.author_id)
    message = str(failure.value)
    assert message.startswith("4 statements ran, at most 2 expected:")
    assert "\n  3x SELECT" in message
    # The relation and the fix are named, with the line that ran the query.
    assert "N+1: 3 similar queries at " in message and "test_queries.py:" in message
    assert 'Book.objects.select_related("author")' in message
    assert isinstance(failure.value, AssertionError)
