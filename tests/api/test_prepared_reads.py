"""CRUD reads without filters run statements prepared once; on PostgreSQL they go to the driver directly."""

from __future__ import annotations

import httpx

from fastmango import FastMango
from fastmango.db import transaction
from fastmango.testing import capture_queries
from tests.db.models import Author


async def test_unfiltered_reads_answer_the_same_as_filtered_ones(client: httpx.AsyncClient, app: FastMango) -> None:
    for name in ("Ada", "Brian", "Carol"):
        await Author.objects.create(name=name, email=f"{name.lower()}@example.com")
    with capture_queries() as queries:
        one = (await client.get("/authors/2")).json()
        page = (await client.get("/authors?limit=2&offset=1")).json()
    filtered = (await client.get("/authors?name=Brian")).json()
    assert one == {"id": 2, "name": "Brian", "email": "brian@example.com", "publisher_id": None}
    assert [item["name"] for item in page["items"]] == ["Brian", "Carol"]
    assert page["total"] == 3
    assert filtered["items"] == [one]
    through_sqlalchemy = [sql for sql in queries if "author" in sql]
    # SQLite runs the prepared statements through SQLAlchemy (3: get, count, page); PostgreSQL through asyncpg.
    expected = 0 if app.state.database.dialect == "postgresql" else 3
    assert len(through_sqlalchemy) == expected
    assert (await client.get("/authors/99")).status_code == 404


async def test_prepared_reads_inside_a_transaction_see_its_writes(client: httpx.AsyncClient, app: FastMango) -> None:
    from fastmango.api.crud import CRUDRouter

    crud = CRUDRouter(Author, prefix="/x", permissions=False, actions=())
    async with transaction():
        author = await Author.objects.create(name="Uncommitted")
        assert (await crud.read_one(None, author.pk))["name"] == "Uncommitted"
    assert (await crud.read_one(None, author.pk))["name"] == "Uncommitted"


async def test_cursor_pages_walk_every_row_through_prepared_statements(client: httpx.AsyncClient) -> None:
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


async def test_prepared_creates_answer_conflicts_and_bad_values_as_problems(client: httpx.AsyncClient) -> None:
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
