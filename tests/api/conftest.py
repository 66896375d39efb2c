"""API fixtures: CRUD routers over the test models in a real app, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fastmango import FastMango
from fastmango.api import CRUDRouter
from fastmango.auth import User
from tests.auth.conftest import (
    PASSWORD,
    database_url,  # noqa: F401  (fixture)
    make_settings,
    started,
)
from tests.db.models import Author, Book, Publisher, Tag


def build_app(url: str) -> FastMango:
    app = FastMango(settings=make_settings(url), configure_logging=False)
    app.include_router(
        CRUDRouter(
            Book,
            prefix="/books",
            filter_fields=["title", "pages", "price", "published", "author__name", "id", "author_id"],
            search_fields=["title"],
            ordering_fields=["published", "title", "pages"],
            select_related=["author"],
            permissions=True,
            max_limit=50,
        )
    )
    app.include_router(CRUDRouter(Author, prefix="/authors", permissions=False, filter_fields=["name"]))
    app.include_router(CRUDRouter(Tag, prefix="/tags", permissions=False, pagination="cursor", default_limit=2))
    app.include_router(CRUDRouter(Publisher, prefix="/publishers", permissions="writes", actions=("list", "create")))
    return app


@pytest.fixture
def app(database_url: str) -> FastMango:  # noqa: F811
    return build_app(database_url)


@pytest.fixture
async def client(app: FastMango) -> AsyncIterator[httpx.AsyncClient]:
    async with started(app) as client:
        yield client


async def token(client: httpx.AsyncClient, username: str, *permissions: str, superuser: bool = False) -> dict[str, str]:
    """Headers of a user with these permissions."""
    user = await User.objects.create_user(username, password=PASSWORD, is_superuser=superuser)
    if permissions:
        await user.grant(*permissions)
    response = await client.post("/auth/token", data={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def seed() -> dict[str, Any]:
    ada = await Author.objects.create(name="Ada Lovelace")
    tolkien = await Author.objects.create(name="J. R. R. Tolkien")
    import datetime
    from decimal import Decimal

    books = await Book.objects.bulk_create(
        [
            Book(title="Notes", pages=50, price=Decimal("9.50"), published=datetime.date(1843, 9, 1), author_id=ada.id),
            Book(
                title="The Hobbit",
                pages=310,
                price=Decimal("12.00"),
                published=datetime.date(1937, 9, 21),
                author_id=tolkien.id,
            ),
            Book(
                title="The Silmarillion",
                pages=365,
                price=Decimal("15.25"),
                published=datetime.date(1977, 9, 15),
                author_id=tolkien.id,
            ),
            Book(title="Unpublished", pages=10, author_id=tolkien.id),
        ]
    )
    return {"ada": ada, "tolkien": tolkien, "books": books}
