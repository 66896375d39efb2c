"""The history of writes (fastmango/api/history.py): every surface's writes, recorded in the write's transaction."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fastmango.ai import ToolContext, expose_model, registry
from fastmango.api import Caller, ModelResource
from fastmango.api.history import MASK, LogEntry, history, masked
from fastmango.auth import User
from fastmango.db import transaction
from tests.admin.conftest import headers_for, seed
from tests.db.models import Book


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    tools = dict(registry._tools)
    yield
    registry._tools.clear()
    registry._tools.update(tools)


async def entries(pk: int) -> list[LogEntry]:
    return await history.of(Book, pk)


async def test_crud_router_writes_are_recorded_as_api(client: httpx.AsyncClient) -> None:
    data = await seed()
    writer = await headers_for(client, "writer", "book.add", "book.change", "book.delete", "book.view", staff=False)
    body = {"title": "Leaf by Niggle", "pages": 20, "author_id": data["tolkien"].id}
    created = await client.post("/books", json=body, headers=writer)
    assert created.status_code == 201, created.text
    pk = created.json()["id"]
    assert (await client.patch(f"/books/{pk}", json={"pages": 30}, headers=writer)).status_code == 200
    assert (await client.delete(f"/books/{pk}", headers=writer)).status_code == 204
    found = await entries(pk)
    assert [(e.action, e.surface, e.actor) for e in found] == [
        ("delete", "api", "writer"),
        ("update", "api", "writer"),
        ("create", "api", "writer"),
    ]
    assert found[1].as_dict()["changes"] == {"pages": [20, 30]}
    assert found[2].as_dict()["changes"]["title"] == [None, "Leaf by Niggle"]
    assert found[0].object_repr == "Leaf by Niggle"


async def test_ai_tool_writes_are_recorded_on_behalf_of_the_user(client: httpx.AsyncClient) -> None:
    data = await seed()
    books = ModelResource(Book)
    await headers_for(client, "ada", "book.change", "book.view", staff=False)
    user = await User.objects.get(username="ada")
    [update] = expose_model(books, actions=["update"], requires_approval=False, prefix="history_book")
    context = ToolContext(user=user, request=None, run=None)
    await update.call(context, {"pk": data["books"][0].id, "changes": {"pages": 51}})
    [entry] = await entries(data["books"][0].id)
    assert entry.as_dict() | {"at": None, "id": None} == {
        "id": None,
        "at": None,
        "actor": {"id": user.id, "username": "ada"},
        "action": "update",
        "surface": "ai",
        "via": "history_book_update",
        "on_behalf_of": "ada",
        "object_repr": "Notes",
        "changes": {"pages": [50, 51]},
    }


async def test_a_rolled_back_write_leaves_no_history(client: httpx.AsyncClient) -> None:
    data = await seed()
    resource = ModelResource(Book, permissions=False)
    with pytest.raises(RuntimeError):
        async with transaction():
            await resource.update(Caller(surface="task", via="nightly"), data["books"][0].id, {"pages": 1})
            raise RuntimeError("the task failed")
    assert await entries(data["books"][0].id) == []
    await resource.update(Caller(surface="task", via="nightly"), data["books"][0].id, {"pages": 1})
    [entry] = await entries(data["books"][0].id)
    assert (entry.surface, entry.via, entry.actor_id) == ("task", "nightly", None)


async def test_an_update_that_changes_nothing_records_nothing(client: httpx.AsyncClient) -> None:
    data = await seed()
    resource = ModelResource(Book, permissions=False)
    await resource.update(Caller(), data["books"][0].id, {"pages": 50})
    assert await entries(data["books"][0].id) == []


def test_secret_fields_are_masked() -> None:
    changes = masked(User, {"hashed_password": ["old", "new"], "username": ["a", "b"], "email": [None, "x"]})
    assert changes == {"hashed_password": [MASK, MASK], "username": ["a", "b"], "email": [None, "x"]}
