"""AI fixtures: an app with users, the test models, CRUD endpoints and agents, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import Depends

from fastmango import FastMango
from fastmango.ai import registry
from fastmango.ai.agents import _agents
from fastmango.auth import User, require_permission
from fastmango.core.settings import DEFAULT_PLUGINS
from tests.auth.conftest import (
    PASSWORD,
    database_url,  # noqa: F401  (fixture)
    make_settings,
    started,
)
from tests.db.models import Author, Book
from tests.faults.servers import redis_server  # noqa: F401  (fixture: a Redis of its own, to hang)


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    """Each test declares its own tools and agents."""
    tools, declared = dict(registry._tools), dict(_agents)
    registry._tools.clear()
    _agents.clear()
    yield
    registry._tools.clear()
    registry._tools.update(tools)
    _agents.clear()
    _agents.update(declared)


def build_app(url: str, **settings: Any) -> FastMango:
    app = FastMango(settings=make_settings(url, **settings), plugins=DEFAULT_PLUGINS, configure_logging=False)

    @app.post("/books/{pk}/stock", operation_id="restock", dependencies=[Depends(require_permission("book.change"))])
    async def restock(pk: int, amount: int = 1) -> dict[str, int]:
        """Add copies of a book to the stock."""
        book = await Book.objects.get(pk=pk)
        await Book.objects.filter(pk=pk).update(pages=book.pages + amount)
        return {"pk": pk, "pages": book.pages + amount}

    return app


@pytest.fixture
def app(database_url: str) -> FastMango:  # noqa: F811
    return build_app(database_url)


@pytest.fixture
async def client(app: FastMango) -> AsyncIterator[httpx.AsyncClient]:
    async with started(app) as client:
        yield client


async def empty_usage_ledger(app: FastMango) -> None:
    """An ai_usage table (created if missing) with no rows, and an empty usage buffer: rows other tests left in the
    table, the buffer, or a write still in flight are written first, then deleted, so none is counted by the next."""
    from sqlalchemy import text
    from sqlmodel import SQLModel

    from fastmango.ai.metering import meter

    engine = app.state.database.engine
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=[SQLModel.metadata.tables["ai_usage"]])
    await meter.flush()  # waits for a write in flight, which would land after the DELETE otherwise
    meter.discard()
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM ai_usage"))  # the PostgreSQL database is shared with other tests


async def make_user(username: str, *permissions: str) -> User:
    user = await User.objects.create_user(username, password=PASSWORD)
    if permissions:
        await user.grant(*permissions)
    return user


async def seed_books() -> Author:
    author = await Author.objects.create(name="Frank Herbert")
    await Book.objects.bulk_create(
        [
            Book(title=title, pages=pages, author_id=author.id)
            for title, pages in (("Dune", 412), ("Messiah", 256), ("Children", 444))
        ]
    )
    return author
