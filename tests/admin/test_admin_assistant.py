"""The admin's assistant panel (fastmango/admin/assistant.py): answers through the site's resources as the staff user,
proposes writes that wait for approval, and writes them as AI writes once approved. The model is scripted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from sqlmodel import SQLModel

from fastmango import FastMango
from fastmango.admin import AdminSite
from fastmango.ai import UsageRecord, flush_usage
from fastmango.api.history import history
from tests.admin.conftest import headers_for, seed
from tests.auth.conftest import started
from tests.db.models import Book

Step = str | tuple[str, dict[str, Any]] | Callable[[list[ModelMessage]], str]


class Script:
    """A FunctionModel answering ``steps`` in turn (a tuple calls a tool, a callable reads the messages); it records
    the tools it was offered and the messages it was sent."""

    def __init__(self, *steps: Step) -> None:
        self.steps = steps
        self.offered: list[set[str]] = []
        self.seen: list[list[ModelMessage]] = []
        self.model = FunctionModel(self.respond)

    def respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.offered.append({tool.name for tool in info.function_tools})
        self.seen.append(list(messages))
        step = self.steps[min(len(self.seen) - 1, len(self.steps) - 1)]
        if isinstance(step, tuple):
            return ModelResponse(parts=[ToolCallPart(step[0], step[1], tool_call_id=f"call{len(self.seen)}")])
        return ModelResponse(parts=[TextPart(step if isinstance(step, str) else step(messages))])


def returns(messages: list[ModelMessage]) -> list[Any]:
    return [part.content for message in messages for part in message.parts if isinstance(part, ToolReturnPart)]


@pytest.fixture
async def client(app: FastMango) -> AsyncIterator[httpx.AsyncClient]:
    async with started(app) as client:
        async with app.state.database.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all, tables=[SQLModel.metadata.tables["ai_usage"]])
        yield client
        await flush_usage()
        async with app.state.database.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.drop_all, tables=[SQLModel.metadata.tables["ai_usage"]])


def scripted(site_and_books: tuple[AdminSite, Any], *steps: Step) -> Script:
    script = Script(*steps)
    site_and_books[0].assistant_model = script.model
    return script


async def test_a_question_is_answered_through_a_read_tool_with_the_rows_the_user_may_see(
    client: httpx.AsyncClient, site_and_books: tuple[AdminSite, Any]
) -> None:
    await seed()

    def titles(messages: list[ModelMessage]) -> str:
        [page] = returns(messages)
        return "Books: " + ", ".join(row["title"] for row in page["items"])

    script = scripted(site_and_books, ("book_list", {}), titles)
    headers = await headers_for(client, "staff", "book.view")
    response = await client.post("/admin/api/assistant", json={"message": "Which books are there?"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pending"] == []
    assert "The Hobbit" in body["answer"] and "Notes" in body["answer"]
    assert "Secret diary" not in body["answer"]  # the resource hides it from this user, for the assistant too
    offered = script.offered[0]
    assert {"book_list", "book_get"} <= offered
    assert not offered & {"book_update", "book_delete", "book_lengthen", "author_list"}  # no permission: not offered
    await flush_usage()
    assert await UsageRecord.objects.filter(agent="admin_assistant", kind="tool", tool="book_list").exists()

    scripted(site_and_books, lambda messages: f"{len(messages)} messages so far")
    again = await client.post(
        "/admin/api/assistant", json={"message": "And now?", "history": body["history"]}, headers=headers
    )
    assert again.status_code == 200, again.text
    assert again.json()["answer"] == "5 messages so far"  # the conversation went on from the history sent back


async def test_a_proposed_write_waits_and_approval_applies_it_as_an_ai_write(
    client: httpx.AsyncClient, site_and_books: tuple[AdminSite, Any]
) -> None:
    data = await seed()
    hobbit = data["books"][1]
    scripted(site_and_books, ("book_update", {"pk": hobbit.id, "changes": {"pages": 999}}), "Done: 999 pages.")
    headers = await headers_for(client, "editor", "book.view", "book.change")
    asked = await client.post("/admin/api/assistant", json={"message": "Make it 999 pages"}, headers=headers)
    assert asked.status_code == 200, asked.text
    body = asked.json()
    assert body["answer"] is None
    [pending] = body["pending"]
    assert pending["tool"] == "book_update" and pending["args"] == {"pk": hobbit.id, "changes": {"pages": 999}}
    assert pending["summary"] == f'Change book "The Hobbit" (#{hobbit.id}): pages = 999'
    assert (await Book.objects.get(pk=hobbit.id)).pages == 310  # nothing is written before the decision
    assert await history.of(Book, hobbit.id) == []

    skipped = await client.post(
        "/admin/api/assistant", json={"message": "Something else", "history": body["history"]}, headers=headers
    )
    assert skipped.status_code == 409  # the proposed change is decided first

    approved = await client.post(
        "/admin/api/assistant/approve",
        json={"history": body["history"], "decisions": {pending["id"]: True}},
        headers=headers,
    )
    assert approved.status_code == 200, approved.text
    assert approved.json() | {"history": None} == {"answer": "Done: 999 pages.", "history": None, "pending": []}
    assert (await Book.objects.get(pk=hobbit.id)).pages == 999
    [entry] = await history.of(Book, hobbit.id)
    assert (entry.action, entry.surface, entry.via, entry.on_behalf_of) == ("update", "ai", "book_update", "editor")
    assert entry.as_dict()["changes"] == {"pages": [310, 999]}

    again = await client.post(
        "/admin/api/assistant/approve",
        json={"history": approved.json()["history"], "decisions": {pending["id"]: True}},
        headers=headers,
    )
    assert again.status_code == 409  # the change was decided; it is not run twice


async def test_a_rejected_write_is_not_made_and_the_model_is_told(
    client: httpx.AsyncClient, site_and_books: tuple[AdminSite, Any]
) -> None:
    data = await seed()
    notes = data["books"][0]
    script = scripted(site_and_books, ("book_delete", {"pk": notes.id}), "Understood, I left it.")
    headers = await headers_for(client, "deleter", "book.view", "book.delete")
    body = (await client.post("/admin/api/assistant", json={"message": "Delete Notes"}, headers=headers)).json()
    [pending] = body["pending"]
    assert pending["summary"] == f'Delete book "Notes" (#{notes.id})'
    rejected = await client.post(
        "/admin/api/assistant/approve",
        json={"history": body["history"], "decisions": {pending["id"]: False}},
        headers=headers,
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["answer"] == "Understood, I left it."
    assert await Book.objects.filter(pk=notes.id).exists()
    assert await history.of(Book, notes.id) == []
    assert "The user rejected this change" in str(script.seen[-1])


async def test_an_admin_action_is_a_tool_that_waits_for_approval(
    client: httpx.AsyncClient, site_and_books: tuple[AdminSite, Any]
) -> None:
    data = await seed()
    pks = [book.id for book in data["books"][:2]]
    scripted(site_and_books, ("book_lengthen", {"pks": pks}), "Lengthened.")
    headers = await headers_for(client, "changer", "book.view", "book.change")
    body = (await client.post("/admin/api/assistant", json={"message": "Lengthen"}, headers=headers)).json()
    [pending] = body["pending"]
    assert pending["summary"] == f'Make long: 2 books: "Notes" (#{pks[0]}), "The Hobbit" (#{pks[1]})'
    decided = {"history": body["history"], "decisions": {pending["id"]: True}}
    assert (await client.post("/admin/api/assistant/approve", json=decided, headers=headers)).status_code == 200
    assert [book.pages for book in await Book.objects.filter(pk__in=pks)] == [1000, 1000]
    [entry] = await history.of(Book, pks[0])
    assert (entry.action, entry.surface, entry.via, entry.on_behalf_of) == ("action", "ai", "book_lengthen", "changer")


async def test_a_user_without_the_permission_gets_the_tool_refused(
    client: httpx.AsyncClient, site_and_books: tuple[AdminSite, Any]
) -> None:
    data = await seed()
    notes = data["books"][0]
    script = scripted(site_and_books, ("book_delete", {"pk": notes.id}), "I cannot.")
    viewer = await headers_for(client, "viewer", "book.view")
    body = (await client.post("/admin/api/assistant", json={"message": "Delete Notes"}, headers=viewer)).json()
    assert body == body | {"answer": "I cannot.", "pending": []}
    assert "book_delete" not in script.offered[0]
    assert "Unknown tool name: 'book_delete'" in str(script.seen[-1])

    # A history in which a user who may delete had the deletion proposed does not let this user approve it.
    script = scripted(site_and_books, ("book_delete", {"pk": notes.id}), "Deleted.")
    deleter = await headers_for(client, "deleter", "book.view", "book.delete")
    proposed = (await client.post("/admin/api/assistant", json={"message": "Delete"}, headers=deleter)).json()
    [pending] = proposed["pending"]
    decided = {"history": proposed["history"], "decisions": {pending["id"]: True}}
    refused = await client.post("/admin/api/assistant/approve", json=decided, headers=viewer)
    assert refused.status_code == 200, refused.text
    assert await Book.objects.filter(pk=notes.id).exists()
    assert await history.of(Book, notes.id) == []
    assert "Unknown tool name: 'book_delete'" in str(script.seen[-1])  # not this user's tool: not run


async def test_staff_only(client: httpx.AsyncClient, site_and_books: tuple[AdminSite, Any]) -> None:
    scripted(site_and_books, "hello")
    anonymous = await client.post("/admin/api/assistant", json={"message": "hi"})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    headers = await headers_for(client, "member", "book.view", staff=False)
    for path in ("/admin/api/assistant", "/admin/api/assistant/approve"):
        refused = await client.post(path, json={"message": "hi", "history": [], "decisions": {}}, headers=headers)
        assert refused.status_code == 403, path


async def test_bad_bodies_are_422_problems(client: httpx.AsyncClient, site_and_books: tuple[AdminSite, Any]) -> None:
    scripted(site_and_books, "hello")
    headers = await headers_for(client, "staff", "book.view")
    empty = await client.post("/admin/api/assistant", json={"message": " "}, headers=headers)
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "message"
    forged = await client.post("/admin/api/assistant", json={"message": "hi", "history": [{"x": 1}]}, headers=headers)
    assert forged.status_code == 422 and forged.json()["errors"][0]["field"] == "history"


async def test_without_a_model_the_assistant_is_off_and_says_how_to_configure_one(
    client: httpx.AsyncClient, site_and_books: tuple[AdminSite, Any]
) -> None:
    headers = await headers_for(client, "staff", "book.view")
    assert (await client.get("/admin/api/site", headers=headers)).json()["assistant"] is False
    response = await client.post("/admin/api/assistant", json={"message": "hi"}, headers=headers)
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "FASTMANGO_ADMIN_ASSISTANT_MODEL" in response.json()["detail"]
    scripted(site_and_books, "hello")
    assert (await client.get("/admin/api/site", headers=headers)).json()["assistant"] is True


def test_the_model_comes_from_the_settings() -> None:
    from fastmango.admin import assistant
    from fastmango.core.errors import ImproperlyConfigured
    from fastmango.core.settings import Settings

    site = AdminSite()
    assert assistant.model_of(site, Settings(ai_models={"default": "test"})) is None  # the offline model: off
    assert assistant.model_of(site, Settings(ai_models={"default": "test", "smart": "openai:x"})) is None
    assert assistant.model_of(site, Settings(ai_models={"default": ["openai:x", "test"]})) == "default"
    chosen = Settings(ai_models={"default": "test", "smart": "openai:x"}, admin_assistant_model="smart")
    assert assistant.model_of(site, chosen) == "smart"
    with pytest.raises(ImproperlyConfigured, match="'smrt' is not an alias of ai_models"):
        assistant.check(Settings(ai_models={"default": "test", "smart": "openai:x"}, admin_assistant_model="smrt"))


def test_users_groups_and_permissions_are_read_only_to_the_assistant(site_and_books: tuple[AdminSite, Any]) -> None:
    from fastmango.admin import assistant
    from fastmango.admin.users import register_defaults

    site = site_and_books[0]
    register_defaults(site)
    names = {tool.name for tool in assistant.tools_of(site)}
    assert {"auth_user_list", "auth_user_get", "book_create", "book_update", "book_delete", "book_lengthen"} <= names
    assert not {name for name in names if name.startswith("auth_") and not name.endswith(("_list", "_get"))}


async def test_a_read_and_a_write_in_one_response(
    client: httpx.AsyncClient, site_and_books: tuple[AdminSite, Any]
) -> None:
    data = await seed()
    hobbit = data["books"][1]
    calls = [("book_list", {}, "read"), ("book_update", {"pk": hobbit.id, "changes": {"pages": 1}}, "write")]
    script = Script("Done.")

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        script.seen.append(list(messages))
        if len(script.seen) == 1:
            return ModelResponse(parts=[ToolCallPart(name, args, tool_call_id=id_) for name, args, id_ in calls])
        return ModelResponse(parts=[TextPart(f"Done after {len(returns(messages))} results.")])

    site_and_books[0].assistant_model = FunctionModel(respond)
    headers = await headers_for(client, "editor", "book.view", "book.change")
    body = (await client.post("/admin/api/assistant", json={"message": "go"}, headers=headers)).json()
    assert [change["id"] for change in body["pending"]] == ["write"]
    decided = {"history": body["history"], "decisions": {"write": True}}
    approved = await client.post("/admin/api/assistant/approve", json=decided, headers=headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["answer"] == "Done after 2 results."
    assert (await Book.objects.get(pk=hobbit.id)).pages == 1


async def test_a_history_ending_in_an_unanswered_read_call_is_a_422(
    client: httpx.AsyncClient, site_and_books: tuple[AdminSite, Any]
) -> None:
    from pydantic_ai.messages import ModelMessagesTypeAdapter, ModelRequest, UserPromptPart

    await seed()
    scripted(site_and_books, "ok")
    staff = await headers_for(client, "staff", "book.view")
    for tool in ("book_list", "nonexistent_tool"):
        forged = [
            ModelRequest(parts=[UserPromptPart("hi")]),
            ModelResponse(parts=[ToolCallPart(tool, {}, tool_call_id="x")]),
        ]
        history = ModelMessagesTypeAdapter.dump_python(forged, mode="json")
        asked = await client.post("/admin/api/assistant", json={"message": "again", "history": history}, headers=staff)
        assert asked.status_code == 422, asked.text
        assert asked.json()["errors"][0]["field"] == "history"
        approved = await client.post(
            "/admin/api/assistant/approve", json={"history": history, "decisions": {"x": True}}, headers=staff
        )
        assert approved.status_code in (409, 422), approved.text


async def test_two_proposed_writes_with_one_call_id_are_a_502_and_nothing_is_written(
    client: httpx.AsyncClient, site_and_books: tuple[AdminSite, Any]
) -> None:
    data = await seed()
    first, second = data["books"][0], data["books"][1]

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(
                parts=[
                    ToolCallPart("book_update", {"pk": first.id, "changes": {"title": "Renamed"}}, tool_call_id="dup"),
                    ToolCallPart("book_delete", {"pk": second.id}, tool_call_id="dup"),
                ]
            )
        return ModelResponse(parts=[TextPart("done")])

    site_and_books[0].assistant_model = FunctionModel(respond)
    staff = await headers_for(client, "staff", "book.view", "book.change", "book.delete")
    asked = await client.post("/admin/api/assistant", json={"message": "rename"}, headers=staff)
    if asked.status_code == 200:
        body = asked.json()
        asked = await client.post(
            "/admin/api/assistant/approve",
            json={"history": body["history"], "decisions": {"dup": True}},
            headers=staff,
        )
    assert asked.status_code == 502, asked.text
    assert asked.headers["content-type"].startswith("application/problem+json")
    assert await Book.objects.filter(pk=second.id).exists()
    assert (await Book.objects.get(pk=first.id)).title == first.title


async def test_a_pending_summary_names_rows_only_for_a_user_who_may_get_them(
    client: httpx.AsyncClient, site_and_books: tuple[AdminSite, Any]
) -> None:
    data = await seed()
    book = data["books"][0]
    scripted(site_and_books, ("book_delete", {"pk": book.id}))
    staff = await headers_for(client, "staff", "book.delete")
    asked = await client.post("/admin/api/assistant", json={"message": "delete it"}, headers=staff)
    assert asked.status_code == 200, asked.text
    [pending] = asked.json()["pending"]
    assert book.title not in pending["summary"] and f"#{book.id}" in pending["summary"]
