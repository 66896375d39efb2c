"""Admin fixtures: an app serving a site of its own over the test models (authors, books, tags), on SQLite and
PostgreSQL. Books are a scoped resource: a book titled "Secret ..." is hidden from everyone but superusers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from fastmango import FastMango
from fastmango.admin import AdminSite, action
from fastmango.admin.plugin import AdminPlugin
from fastmango.ai import registry
from fastmango.api import Caller, CRUDRouter, ModelResource
from fastmango.auth import User
from fastmango.core.settings import DEFAULT_PLUGINS
from fastmango.db import QuerySet
from tests.auth.conftest import (
    PASSWORD,
    database_url,  # noqa: F401  (fixture)
    make_settings,
    started,
)
from tests.db.models import Author, Book, Tag


async def visible_books(caller: Caller) -> QuerySet[Book]:
    if caller.user is not None and caller.user.is_superuser:
        return Book.objects.all()
    return Book.objects.exclude(title__startswith="Secret")


@action(permission="book.change", label="Make long", confirm=True)
async def lengthen(caller: Caller, queryset: QuerySet[Book]) -> int:
    """Give the selected books 1000 pages."""
    return await queryset.update(pages=1000)


def build_site() -> tuple[AdminSite, ModelResource[Book]]:
    books = ModelResource(
        Book, queryset=visible_books, select_related=["author"], filter_fields=["title"], search_fields=["title"]
    )
    site = AdminSite()
    site.register(
        books,
        list_display=["id", "title", "pages", "author"],
        list_filter=["author", "tags", "author__name", "published"],
        ordering=["title"],
        autocomplete_fields=["author_id", "tags"],
        actions=[lengthen],
    )
    site.register(Author, list_display=["id", "name"], search_fields=["name"], inlines=[books])
    site.register(Tag, search_fields=["name"])
    return site, books


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    tools = dict(registry._tools)
    yield
    registry._tools.clear()
    registry._tools.update(tools)


@pytest.fixture
def site_and_books() -> tuple[AdminSite, ModelResource[Book]]:
    return build_site()


@pytest.fixture
def app(database_url: str, site_and_books: tuple[AdminSite, ModelResource[Book]]) -> FastMango:  # noqa: F811
    site, books = site_and_books
    plugins: list[Any] = [p for p in DEFAULT_PLUGINS if "admin" not in p] + [AdminPlugin(site)]
    app = FastMango(settings=make_settings(database_url), plugins=plugins, configure_logging=False)
    app.include_router(CRUDRouter(books, prefix="/books"))
    return app


@pytest.fixture
async def client(app: FastMango) -> AsyncIterator[httpx.AsyncClient]:
    async with started(app) as client:
        yield client


async def headers_for(
    client: httpx.AsyncClient, username: str, *permissions: str, staff: bool = True, superuser: bool = False
) -> dict[str, str]:
    """Authorization headers of a new user."""
    user = await User.objects.create_user(username, password=PASSWORD, is_staff=staff, is_superuser=superuser)
    if permissions:
        await user.grant(*permissions)
    response = await client.post("/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def seed() -> dict[str, Any]:
    ada = await Author.objects.create(name="Ada Lovelace")
    tolkien = await Author.objects.create(name="J. R. R. Tolkien")
    rings, maps = await Tag.objects.bulk_create([Tag(name="rings"), Tag(name="maps")])
    books = await Book.objects.bulk_create(
        [
            Book(title="Notes", pages=50, author_id=ada.id),
            Book(title="The Hobbit", pages=310, author_id=tolkien.id),
            Book(title="The Silmarillion", pages=365, author_id=tolkien.id),
            Book(title="Secret diary", pages=10, author_id=tolkien.id),
        ]
    )
    return {"ada": ada, "tolkien": tolkien, "books": books, "rings": rings, "maps": maps}
