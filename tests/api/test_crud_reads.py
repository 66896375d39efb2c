"""CRUD reads and writes run through the db layer's one pipeline: every statement is seen by the query hook (on
PostgreSQL the reads run on asyncpg directly), and a create runs the model's own ``save()``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlmodel import SQLModel

from fastmango import FastMango
from fastmango.api import CRUDRouter
from fastmango.db import Field, Model, transaction
from fastmango.testing import app_client, capture_queries
from tests.db.models import Author


class Slugged(Model, table=True):
    """A model whose save() fills a field: CRUD create must run it."""

    __tablename__ = "crud_slugged"
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=80)
    slug: str = Field(default="", max_length=80)

    async def save(self) -> None:
        if not self.slug:
            self.slug = self.title.lower().replace(" ", "-")
        await super().save()


async def test_unfiltered_reads_answer_the_same_as_filtered_ones(client: httpx.AsyncClient, app: FastMango) -> None:
    for name in ("Ada", "Brian", "Carol"):
        await Author.objects.create(name=name, email=f"{name.lower()}@example.com")
    with capture_queries() as queries:
        one = (await client.get("/authors/2")).json()
        page = (await client.get("/authors?limit=2&offset=1")).json()
        filtered = (await client.get("/authors?name=Brian&ordering=")).json()
    assert one == {"id": 2, "name": "Brian", "email": "brian@example.com", "publisher_id": None}
    assert [item["name"] for item in page["items"]] == ["Brian", "Carol"]
    assert page["total"] == 3
    assert filtered["items"] == [one]
    assert filtered["total"] == 1
    # get; page and its COUNT (the page is full); the filtered page (not full at offset 0: no COUNT).
    assert len(queries) == 4, queries
    kinds = {event.connection for event in queries.events}
    assert kinds == {"driver"}  # on SQLite too: reads outside a transaction run on aiosqlite directly
    assert all(event.rows is not None for event in queries.events if event.connection == "driver")
    assert (await client.get("/authors/99")).status_code == 404


@pytest.fixture
async def slugged_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    from tests.api.conftest import make_settings

    app = FastMango(settings=make_settings(database_url), configure_logging=False)
    app.include_router(CRUDRouter(Slugged, prefix="/slugged", permissions=False))
    tables = [SQLModel.metadata.tables["crud_slugged"], SQLModel.metadata.tables["api_history"]]  # writes' history
    async with app_client(app) as client:
        engine = app.state.database.engine
        async with engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all, tables=tables)
        try:
            yield client
        finally:
            async with engine.begin() as conn:
                await conn.run_sync(SQLModel.metadata.drop_all, tables=tables)


async def test_crud_create_runs_the_models_own_save(slugged_client: httpx.AsyncClient) -> None:
    created = await slugged_client.post("/slugged", json={"title": "Hello World"})
    assert created.status_code == 201, created.text
    assert created.json()["slug"] == "hello-world"
    stored = await Slugged.objects.get(pk=created.json()["id"])
    assert stored.slug == "hello-world"


async def test_crud_reads_inside_a_transaction_see_its_writes(client: httpx.AsyncClient, app: FastMango) -> None:
    crud = CRUDRouter(Author, prefix="/x", permissions=False, actions=())
    async with transaction():
        author = await Author.objects.create(name="Uncommitted")
        assert (await crud.read_one(None, author.pk))["name"] == "Uncommitted"
    assert (await crud.read_one(None, author.pk))["name"] == "Uncommitted"


async def test_cursor_pages_walk_every_row(client: httpx.AsyncClient) -> None:
    for name in ("a", "b", "c", "d", "e"):
        assert (await client.post("/tags", json={"name": name})).status_code == 201
    names, cursor = [], None
    while True:
        body = (await client.get("/tags" + (f"?cursor={cursor}" if cursor else ""))).json()
        names += [item["name"] for item in body["items"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert names == ["a", "b", "c", "d", "e"]


async def test_a_cursor_of_the_wrong_type_is_a_bad_request_not_a_server_error(client: httpx.AsyncClient) -> None:
    from fastmango.api.pagination import encode_cursor

    response = await client.get(f"/tags?cursor={encode_cursor('not-a-number')}")
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_creates_answer_conflicts_and_bad_values_as_problems(client: httpx.AsyncClient) -> None:
    created = await client.post("/authors", json={"name": "Ada", "email": "ada@example.com"})
    assert created.status_code == 201, created.text
    assert created.json()["id"] == 1
    duplicate = await client.post("/authors", json={"name": "Ada 2", "email": "ada@example.com"})
    assert duplicate.status_code == 409
    assert duplicate.json()["constraint_kind"] == "unique"
    orphan = await client.post("/authors", json={"name": "Orphan", "publisher_id": 999})
    assert orphan.status_code == 409
    assert orphan.json()["constraint_kind"] == "foreign_key"
    assert await Author.objects.count() == 1
