from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import Depends
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, RetryPromptPart, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

import fastmango
from fastmango.ai import AgentDeps, ToolContext, agent, expose_model, expose_routes, registry, use_agent
from fastmango.ai.functions import parse_docstring
from fastmango.auth import CurrentUser
from fastmango.db import QuerySet
from tests.ai.conftest import make_user, seed_books
from tests.db.models import Book


def script(*steps: Any) -> tuple[FunctionModel, list[AgentInfo], list[list[ModelMessage]]]:
    """A FunctionModel that answers with ``steps`` in turn and records what it was offered and sent."""
    offered: list[AgentInfo] = []
    seen: list[list[ModelMessage]] = []

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        offered.append(info)
        seen.append(list(messages))
        step = steps[min(len(seen) - 1, len(steps) - 1)]
        if isinstance(step, tuple):
            return ModelResponse(parts=[ToolCallPart(step[0], step[1], tool_call_id=f"call{len(seen)}")])
        return ModelResponse(parts=[TextPart(step)])

    return FunctionModel(respond), offered, seen


def tool_returns(messages: list[ModelMessage]) -> list[Any]:
    return [part.content for message in messages for part in message.parts if isinstance(part, ToolReturnPart)]


def retries(messages: list[ModelMessage]) -> list[Any]:
    return [part.content for message in messages for part in message.parts if isinstance(part, RetryPromptPart)]


def test_function_tool_schema_comes_from_type_hints_and_docstring() -> None:
    @fastmango.tool
    async def search_books(ctx: ToolContext, query: str, limit: int = 5) -> list[str]:
        """Search books by title.

        Args:
            query: Words the title contains.
            limit: How many books at most.
        """
        return []

    spec = registry.get("search_books")
    assert spec.description == "Search books by title."
    assert spec.parameters["properties"]["query"] == {"description": "Words the title contains.", "type": "string"}
    assert spec.parameters["properties"]["limit"]["default"] == 5
    assert spec.parameters["required"] == ["query"]
    assert "ctx" not in spec.parameters["properties"]
    assert spec.parameters["additionalProperties"] is False


def test_tool_options_are_recorded() -> None:
    @fastmango.tool(permissions=["book.view"], name="recent", cache_ttl=300, requires_approval=True)
    def recent_books(days: int = 7) -> QuerySet[Book]:
        """Books of the last days."""
        return Book.objects.all()

    spec = registry.get("recent")
    assert (spec.permissions, spec.cache_ttl, spec.requires_approval, spec.kind) == (("book.view",), 300, True, "query")
    assert recent_books.__fastmango_tool__ is spec  # type: ignore[attr-defined]


def test_registry_lists_and_filters_by_glob() -> None:
    expose_model(Book, actions=("list", "get"))

    @fastmango.tool
    def ping() -> str:
        """Ping."""
        return "pong"

    assert [spec.name for spec in registry.match(["book_*"])] == ["book_get", "book_list"]
    assert [spec.name for spec in registry] == ["book_get", "book_list", "ping"]


def test_docstring_parsing() -> None:
    description, params = parse_docstring(
        "Do a thing.\n\nArgs:\n    a (int): First\n      continued.\n    b: Second.\n"
    )
    assert description == "Do a thing."
    assert params == {"a": "First continued.", "b": "Second."}


async def test_a_user_without_view_is_never_offered_the_model_tool_and_a_forced_call_is_refused(
    client: httpx.AsyncClient,
) -> None:
    await seed_books()
    expose_model(Book, filter_fields=["title"])
    model, offered, seen = script(("book_list", {}), "done")
    support = agent("support", tools=["book_*"], model=model)
    stranger = await make_user("stranger")
    result = await support.run("list books", user=stranger)
    assert [tool.name for tool in offered[0].function_tools] == []
    assert result.output == "done"
    answer = str(tool_returns(seen[-1]) + retries(seen[-1]))
    assert "Unknown tool name: 'book_list'" in answer
    assert "Dune" not in answer

    reader = await make_user("reader", "book.view")
    model, offered, seen = script(("book_list", {"filters": {"title__icontains": "dune"}}), "done")
    support = agent("support", tools=["book_*"], model=model)
    await support.run("list books", user=reader)
    assert sorted(tool.name for tool in offered[0].function_tools) == ["book_get", "book_list"]
    [listing] = tool_returns(seen[-1])
    assert listing["total"] == 1
    assert listing["items"][0]["title"] == "Dune"


async def test_permission_is_checked_again_when_a_tool_is_called(client: httpx.AsyncClient) -> None:
    from fastmango.ai.toolset import ToolPermissionDenied, run_tool

    [spec] = expose_model(Book, actions=("list",))
    with pytest.raises(ToolPermissionDenied):
        await run_tool(spec, ToolContext(user=await make_user("nobody"), request=None, run=None), {})
    with pytest.raises(ToolPermissionDenied):
        await run_tool(spec, ToolContext(user=None, request=None, run=None), {})


async def test_query_tools_are_capped_and_serialized_with_the_read_schema(client: httpx.AsyncClient) -> None:
    await seed_books()

    @fastmango.tool(permissions=["book.view"], max_rows=2)
    def long_books(min_pages: int = 300) -> QuerySet[Book]:
        """Books longer than min_pages."""
        return Book.objects.filter(pages__gte=min_pages).order_by("-pages")

    model, _, seen = script(("long_books", {"min_pages": 1}), "ok")
    await agent("a", tools=["long_books"], model=model).run("long ones", user=await make_user("u", "book.view"))
    [rows] = tool_returns(seen[-1])
    assert [row["title"] for row in rows] == ["Children", "Dune"]
    assert set(rows[0]) == {"id", "title", "pages", "price", "published", "author_id"}


async def test_bad_arguments_become_a_retry_prompt(client: httpx.AsyncClient) -> None:
    await seed_books()
    expose_model(Book, filter_fields=["pages"])
    model, _, seen = script(
        ("book_list", {"filters": {"pages__gt": "many"}}), ("book_list", {"limit": 1000}), ("book_list", {}), "ok"
    )
    await agent("a", tools=["book_list"], model=model).run("x", user=await make_user("u", "book.view"))
    answers = [str(content) for content in tool_returns(seen[-1]) + retries(seen[-1])]
    assert any("pages__gt='many' is not a valid int" in answer for answer in answers)
    assert any("limit: Input should be less than or equal to 50" in answer for answer in answers)
    assert any("'total': 3" in answer for answer in answers)


async def test_a_failing_tool_is_reported_to_the_model_without_the_traceback(client: httpx.AsyncClient) -> None:
    @fastmango.tool
    def explode() -> str:
        """Fails."""
        raise RuntimeError("secret internals at /srv/app.py line 12")

    model, _, seen = script(("explode", {}), "sorry")
    result = await agent("a", tools=["explode"], model=model).run("go")
    assert result.output == "sorry"
    text = str([part for message in seen[-1] for part in message.parts])
    assert "The tool 'explode' failed unexpectedly; the error is logged on the server." in text
    assert "secret internals" not in text and "RuntimeError" not in text


async def test_a_database_outage_in_a_tool_is_told_to_the_model_in_words(client: httpx.AsyncClient) -> None:
    from fastmango.db.errors import DatabaseUnavailable

    @fastmango.tool
    def ledger() -> str:
        """Reads the ledger."""
        raise DatabaseUnavailable("connection refused to 10.0.0.7:5432")

    model, _, seen = script(("ledger", {}), "later")
    await agent("a", tools=["ledger"], model=model).run("go")
    text = str([part for message in seen[-1] for part in message.parts])
    assert "The database is unavailable right now; try again in a few seconds." in text
    assert "DatabaseUnavailable" not in text and "10.0.0.7" not in text


async def test_model_writes_need_approval(client: httpx.AsyncClient) -> None:
    from pydantic_ai import DeferredToolRequests, DeferredToolResults

    author = await seed_books()
    expose_model(Book, actions=("create",))
    model, _, _ = script(("book_create", {"title": "Heretics", "author_id": author.id}), "created")
    writer = agent("writer", tools=["book_create"], model=model)
    user = await make_user("w", "book.add")
    first = await writer.run("add Heretics", user=user)
    assert isinstance(first.output, DeferredToolRequests)
    assert not await Book.objects.filter(title="Heretics").exists()
    [request] = first.output.approvals
    approvals = DeferredToolResults(approvals={request.tool_call_id: True})
    second = await writer.run(None, user=user, message_history=first.all_messages(), deferred_tool_results=approvals)
    assert second.output == "created"
    assert await Book.objects.filter(title="Heretics").exists()


async def test_writes_can_skip_approval_when_asked(client: httpx.AsyncClient) -> None:
    author = await seed_books()
    expose_model(Book, actions=("create",), requires_approval=False)
    model, _, _ = script(("book_create", {"title": "Heretics", "author_id": author.id}), "created")
    await agent("writer", tools=["book_create"], model=model).run("add", user=await make_user("w", "book.add"))
    assert await Book.objects.filter(title="Heretics").exists()


async def test_route_tools_carry_the_callers_identity(client: httpx.AsyncClient, app: fastmango.FastMango) -> None:
    await seed_books()
    [spec] = expose_routes(app, operation_ids=["restock"])
    assert spec.parameters["required"] == ["pk"]
    assert set(spec.parameters["properties"]) == {"pk", "amount"}
    plain = await make_user("plain")
    model, offered, seen = script(("restock", {"pk": 1, "amount": 5}), "done")
    await agent("a", tools=["restock"], model=model).run("restock", user=plain)
    assert offered[0].function_tools == []  # the endpoint's require_permission("book.change") is the tool's
    assert "Unknown tool name: 'restock'" in str(tool_returns(seen[-1]) + retries(seen[-1]))
    assert (await Book.objects.get(pk=1)).pages == 412

    clerk = await make_user("clerk", "book.change")
    model, _, seen = script(("restock", {"pk": 1, "amount": 5}), "done")
    await agent("a", tools=["restock"], model=model).run("restock", user=clerk)
    assert tool_returns(seen[-1]) == [{"pk": 1, "pages": 417}]
    assert (await Book.objects.get(pk=1)).pages == 417


async def test_a_route_tools_problem_keeps_the_routes_type_and_title(
    client: httpx.AsyncClient, app: fastmango.FastMango
) -> None:
    from fastmango.ai.route_tools import call_in_process
    from fastmango.core.errors import ProblemError

    await seed_books()
    plain = ToolContext(user=await make_user("plain"), request=None, run=None)
    with pytest.raises(ProblemError) as refused:
        await call_in_process(app, plain, "POST", "/books/1/stock", {}, None)
    problem = refused.value
    assert (problem.status, problem.title) == (403, "Permission denied")
    assert problem.type == "https://fastmango.dev/problems/permission-denied"


async def test_use_agent_binds_the_request_user(client: httpx.AsyncClient, app: fastmango.FastMango) -> None:
    await seed_books()

    @fastmango.tool
    async def whoami(ctx: ToolContext) -> str:
        """Who is asking."""
        assert ctx.request is not None
        return ctx.user.username if ctx.user else "anonymous"

    model, _, seen = script(("whoami", {}), "answered")
    agent("support", tools=["whoami"], model=model)

    @app.post("/ask")
    async def ask(q: str, user: CurrentUser, support: Any = Depends(use_agent("support"))) -> dict[str, str]:
        result = await support.run(q)
        return {"answer": result.output}

    await make_user("ada")
    token = (
        await client.post("/auth/token", data={"username": "ada", "password": "correct horse battery staple"})
    ).json()
    response = await client.post("/ask?q=hi", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert response.json() == {"answer": "answered"}
    assert tool_returns(seen[-1]) == ["ada"]


async def test_plain_pydantic_ai_agent_can_use_the_registry_toolset(client: httpx.AsyncClient) -> None:
    @fastmango.tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    model, _, seen = script(("add", {"a": 2, "b": 3}), "five")
    plain = Agent(model, deps_type=AgentDeps, toolsets=[registry.toolset(["add"])])
    assert (await plain.run("2+3", deps=AgentDeps())).output == "five"
    assert tool_returns(seen[-1]) == [5]


async def test_a_refused_write_is_told_to_the_model_by_its_fields_not_its_constraint(
    client: httpx.AsyncClient, app: fastmango.FastMango
) -> None:
    app.settings.debug = False
    expose_model(Book, actions=("create",), requires_approval=False)
    model, _, seen = script(("book_create", {"title": "Heretics", "pages": 1, "author_id": 999_999}), "sorry")
    await agent("writer", tools=["book_create"], model=model).run("add", user=await make_user("w", "book.add"))
    text = str([part for message in seen[-1] for part in message.parts])
    assert "author_id refers to a row that does not exist" in text
    for internal in ("IntegrityError", "fkey", "FOREIGN KEY", "INSERT"):
        assert internal not in text
