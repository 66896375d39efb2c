"""ModelResource: one declaration of a model's rows, permissions and fields, served the same over HTTP (CRUDRouter)
and as AI tools (expose_model), with rows scoped by the caller with or without a request."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fastmango import FastMango
from fastmango.ai import ToolContext, expose_model
from fastmango.ai.registry import registry
from fastmango.api import Caller, CRUDRouter, ModelResource
from fastmango.api.serialize import dumps
from fastmango.auth import User
from fastmango.core.errors import ProblemError
from fastmango.db import QuerySet
from tests.api.conftest import make_settings, seed, token
from tests.auth.conftest import started
from tests.db.models import Book


async def visible_books(caller: Caller) -> QuerySet[Book]:
    """Unpublished books only for users with book.change; the request is optional (tools have none)."""
    if caller.user is not None and await caller.user.has_perm("book.change"):
        return Book.objects.all()
    return Book.objects.filter(published__isnull=False)


books = ModelResource(
    Book,
    queryset=visible_books,
    permissions="writes",
    filter_fields=["title", "pages"],
    ordering_fields=["title"],
    select_related=["author"],
    name="rbook",
)


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = FastMango(settings=make_settings(database_url), configure_logging=False)
    app.include_router(CRUDRouter(books, prefix="/rbooks"))
    expose_model(books, actions=("list", "get", "create", "delete"), requires_approval=False)
    async with started(app) as client:
        yield client
    for action in ("list", "get", "create", "delete"):
        registry.remove(f"rbook_{action}")


async def call_tool(name: str, user: User | None, **arguments: Any) -> tuple[int, Any]:
    """(status, JSON result) of a tool call as the resource answers it."""
    try:
        result = await registry.get(name).call(ToolContext(user=user, request=None, run=None), arguments)
    except ProblemError as refused:
        return refused.status, None
    return 200, json.loads(dumps(result))


async def test_the_same_caller_gets_the_same_rows_and_refusals_on_both_surfaces(client: httpx.AsyncClient) -> None:
    data = await seed()
    hidden = data["books"][-1].id  # "Unpublished"
    reader_headers = await token(client, "reader", "book.view")
    writer_headers = await token(client, "writer", "book.view", "book.add", "book.change", "book.delete")
    reader = await User.objects.get(username="reader")
    writer = await User.objects.get(username="writer")
    for user, headers in ((None, {}), (reader, reader_headers), (writer, writer_headers)):
        page = (await client.get("/rbooks", params={"ordering": "title"}, headers=headers)).json()
        status, listed = await call_tool("rbook_list", user, ordering=["title"])
        assert status == 200
        assert listed == {"items": page["items"], "total": page["total"]}
        sees_hidden = user is writer
        assert ("Unpublished" in [row["title"] for row in page["items"]]) is sees_hidden
        http_get = await client.get(f"/rbooks/{hidden}", headers=headers)
        tool_status, row = await call_tool("rbook_get", user, pk=hidden)
        assert http_get.status_code == tool_status == (200 if sees_hidden else 404)
        if sees_hidden:
            assert row == http_get.json()
        body = {"title": f"new by {user.username if user else 'nobody'}", "author_id": data["ada"].id}
        http_create = await client.post("/rbooks", json=body, headers=headers)
        tool_status, _ = await call_tool("rbook_create", user, **{**body, "title": body["title"] + " (tool)"})
        expected = 401 if user is None else 403 if user is reader else 201
        assert http_create.status_code == expected
        assert tool_status == (200 if expected == 201 else expected)


async def test_rows_are_scoped_by_the_caller_without_a_request(client: httpx.AsyncClient) -> None:
    await seed()
    anonymous = await books.list(Caller())
    assert anonymous["total"] == 3
    writer = await User.objects.create_user("scoped", password="x" * 12)
    await writer.grant("book.change")
    assert (await books.list(await fresh(writer)))["total"] == 4
    assert (await books.list(Caller(), [("title", "Unpublished")]))["items"] == []


async def fresh(user: User) -> Caller:
    return Caller(user=await User.objects.get(pk=user.pk))


def test_options_of_a_resource_are_declared_once() -> None:
    with pytest.raises(TypeError, match="filter_fields belong to the ModelResource 'rbook'"):
        CRUDRouter(books, filter_fields=["pages"])
    with pytest.raises(TypeError, match="permissions belong to the ModelResource"):
        expose_model(books, permissions=True)


def test_a_misspelt_select_related_fails_at_declaration_with_the_close_match() -> None:
    from fastmango.core.errors import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match=r"auther.*author"):
        ModelResource(Book, select_related=["auther"])


def test_a_misspelt_router_action_fails_at_declaration_with_the_close_match() -> None:
    from fastmango.core.declarations import DeclarationError

    with pytest.raises(
        DeclarationError, match=r"actions of the CRUDRouter of book: no action 'lsit' \(did you mean 'list'\?\)"
    ) as caught:
        CRUDRouter(Book, actions=["get", "lsit"])  # type: ignore[list-item]
    assert (caught.value.id, caught.value.hint) == ("fastmango.E203", "use 'list' instead of 'lsit'")


def test_a_misspelt_model_tool_action_fails_at_declaration_instead_of_exposing_a_delete_tool() -> None:
    from fastmango.core.declarations import DeclarationError, collecting

    with pytest.raises(
        DeclarationError, match=r"actions of the model tools of book: no action 'delet' \(did you mean 'delete'\?\)"
    ) as caught:
        expose_model(Book, actions=["list", "delet"], permissions=False, prefix="typo_book")  # type: ignore[list-item]
    assert caught.value.id == "fastmango.E305"
    assert "typo_book_delet" not in registry
    with collecting() as found:
        specs = expose_model(Book, actions=["list", "delet"], permissions=False, prefix="typo_book")  # type: ignore[list-item]
    assert ([spec.name for spec in specs], [e.id for e in found]) == (["typo_book_list"], ["fastmango.E305"])
    registry.remove("typo_book_list")


async def test_a_row_created_outside_the_creators_rows_is_answered_201_not_404(client: httpx.AsyncClient) -> None:
    # book.add without book.change: the user sees published books only, and creates a draft.
    headers = await token(client, "drafter", "book.view", "book.add")
    author = (await seed())["ada"]
    response = await client.post("/rbooks", json={"title": "Draft", "author_id": author.id}, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "Draft" and response.json()["published"] is None
    assert await Book.objects.filter(title="Draft").exists()
    assert (await client.get(f"/rbooks/{response.json()['id']}", headers=headers)).status_code == 404  # still unseen
