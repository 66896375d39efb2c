"""Devtools fixtures: an app in DEBUG with the panel on, over the test models, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fastmango import FastMango
from fastmango.api import CRUDRouter, ModelResource
from fastmango.auth import User
from tests.auth.conftest import PASSWORD, database_url, make_settings, started  # noqa: F401  (fixture)
from tests.db.models import Author, Book


def build_app(url: str, **settings: Any) -> FastMango:
    app = FastMango(settings=make_settings(url, **({"debug": True} | settings)), configure_logging=False)
    books = ModelResource(
        Book, select_related=["author"], search_fields=["title"], filter_fields=["title"], ordering_fields=["id"]
    )
    app.include_router(CRUDRouter(books, prefix="/books"))

    @app.get("/n-plus-one")
    async def n_plus_one() -> list[str]:
        names = []
        for book in await Book.objects.order_by("id"):
            author = await Author.objects.get(pk=book.author_id)  # one query per book: the N+1
            names.append(author.name)
        return names

    @app.get("/books-of-each-author")
    async def books_of_each_author() -> dict[str, int]:
        authors = await Author.objects.all()
        return {author.name: await Book.objects.filter(author_id=author.id).count() for author in authors}

    return app


@pytest.fixture
def app(database_url: str) -> FastMango:  # noqa: F811
    return build_app(database_url)


@pytest.fixture
async def client(app: FastMango) -> AsyncIterator[httpx.AsyncClient]:
    async with started(app) as client:
        ann, bob, cy = [await Author.objects.create(name=name) for name in ("Ann", "Bob", "Cy")]
        for number, writer in enumerate([ann, bob, ann, cy]):
            await Book.objects.create(title=f"Book {number}", author_id=writer.id)
        yield client


async def staff_headers(client: httpx.AsyncClient, *, grant: bool = True, staff: bool = True) -> dict[str, str]:
    """Log in a new user (staff with debug.view unless told otherwise) and return the bearer header."""
    name = f"dev{'s' if staff else ''}{'g' if grant else ''}"
    user = await User.objects.create_user(name, PASSWORD, is_staff=staff)
    if grant:
        await user.grant("debug.view", "book.view", "book.add", "author.view")
    response = await client.post("/auth/token", data={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
