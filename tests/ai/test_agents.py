"""Agents over HTTP: the server-sent events of a streamed run, to the end even when the run fails; a typo in an
agent's tools or in a route's ``use_agent`` fails at start-up, naming the close match."""

from __future__ import annotations

import datetime
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Request
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel
from redis.exceptions import ConnectionError as RedisConnectionError

import fastmango
from fastmango import FastMango
from fastmango.ai import BoundAgent, ToolContext, agent, use_agent
from fastmango.core.errors import ImproperlyConfigured
from fastmango.db.errors import DatabaseUnavailable
from tests.ai.conftest import build_app
from tests.auth.conftest import started


async def test_streamed_output_writes_datetimes_as_every_other_response(
    client: httpx.AsyncClient, app: FastMango
) -> None:
    at = datetime.datetime(2025, 1, 31, 9, 30, tzinfo=datetime.UTC)
    clock = agent(
        "clock", output_type=dict[str, datetime.datetime], model=TestModel(custom_output_args={"at": at.isoformat()})
    )

    @app.get("/clock")
    async def ask() -> object:
        return clock.bind(app=app).stream("when?")

    response = await client.get("/clock")
    events = [line.removeprefix("data: ") for line in response.text.splitlines() if line.startswith("data: ")]
    assert json.loads(events[-1]) == {"at": "2025-01-31T09:30:00Z"}


def failing_stream(error: Exception) -> FunctionModel:
    """A model that streams a few words, then fails with ``error``."""

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        yield "Dune is "
        raise error

    return FunctionModel(stream_function=stream)


def sse_events(text: str) -> list[tuple[str, Any]]:
    """The (event, data) pairs of a server-sent events body."""
    found, event = [], "message"
    for line in text.splitlines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            found.append((event, json.loads(line.removeprefix("data: "))))
    return found


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (RuntimeError("secret internals at /srv/app.py line 12"), 500, "internal-error"),
        (ModelHTTPError(500, "openai:gpt-test", {"error": "secret upstream body"}), 502, "ai-provider-error"),
        (RedisConnectionError("Error 111 connecting to 10.0.0.7:6379"), 500, "internal-error"),
        (DatabaseUnavailable("connection refused to 10.0.0.7:5432"), 503, "database-unavailable"),
    ],
    ids=["bug", "provider", "redis", "database"],
)
async def test_a_stream_that_fails_mid_response_ends_with_an_error_event(
    client: httpx.AsyncClient, app: FastMango, error: Exception, status: int, slug: str
) -> None:
    app.settings.debug = False  # as in prod: no internals in error bodies
    talker = agent("talker", model=failing_stream(error))

    @app.get("/talk")
    async def talk(request: Request) -> object:
        return talker.bind(request=request, app=app).stream("how long is Dune?")

    response = await client.get("/talk")
    events = sse_events(response.text)
    assert response.status_code == 200
    assert events[0] == ("text", "Dune is ")
    kind, problem = events[-1]
    assert kind == "error"
    assert problem["type"] == f"https://fastmango.dev/problems/{slug}" and problem["status"] == status
    assert problem["title"] and problem["detail"]
    for internal in ("secret", "10.0.0.7", "RuntimeError", "Traceback"):
        assert internal not in response.text


async def test_the_text_events_of_a_stream_add_up_to_its_output(client: httpx.AsyncClient, app: FastMango) -> None:
    async def words(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        for word in ("Dune ", "is ", "412 pages"):
            yield word

    talker = agent("talker", model=FunctionModel(stream_function=words))

    @app.get("/talk")
    async def talk() -> object:
        return talker.bind(app=app).stream("how long is Dune?")

    events = sse_events((await client.get("/talk")).text)
    assert "".join(data for kind, data in events if kind == "text") == "Dune is 412 pages"
    assert events[-1] == ("output", "Dune is 412 pages")


def post_tools() -> None:
    """Tools ``search_posts``, ``post_list`` and ``post_get``."""

    @fastmango.tool
    async def search_posts(ctx: ToolContext, query: str) -> list[str]:
        """Search posts by title."""
        return []

    @fastmango.tool
    async def post_list(ctx: ToolContext) -> list[str]:
        """List posts."""
        return []

    @fastmango.tool
    async def post_get(ctx: ToolContext, pk: int) -> str:
        """One post."""
        return ""


@pytest.fixture
def bare_app(tmp_path: Any) -> FastMango:
    return build_app(f"sqlite:///{tmp_path}/agents.sqlite3")


async def test_a_tool_name_no_tool_has_fails_at_start_up_naming_the_close_match(bare_app: FastMango) -> None:
    post_tools()
    agent("assistant", tools=["serch_posts", "post_*"], model=TestModel())
    with pytest.raises(
        ImproperlyConfigured,
        match=r"agent 'assistant'.*'serch_posts' matches no registered tool.*"
        r"did you mean 'search_posts'\?",
    ):
        async with started(bare_app):
            pass


async def test_a_tool_pattern_that_matches_nothing_fails_at_start_up_naming_the_close_glob(bare_app: FastMango) -> None:
    post_tools()
    agent("assistant", tools=["search_posts", "pots_*"], model=TestModel())
    with pytest.raises(ImproperlyConfigured, match=r"'pots_\*' matches no registered tool; did you mean 'post_\*'\?"):
        bare_app.configure_plugins()


async def test_an_unknown_agent_in_use_agent_fails_at_start_up_naming_the_route_and_the_close_match(
    bare_app: FastMango,
) -> None:
    agent("assistant", model=TestModel())

    @bare_app.get("/ask")
    async def ask(assistant: BoundAgent = Depends(use_agent("asistant"))) -> str:
        return "never"

    with pytest.raises(
        ImproperlyConfigured, match=r"use_agent\('asistant'\) in GET /ask: .*did you mean 'assistant'\?"
    ):
        async with started(bare_app):
            pass


async def test_use_agent_in_an_included_router_is_checked_too(bare_app: FastMango) -> None:
    agent("assistant", model=TestModel())
    router = APIRouter(prefix="/assistant")

    @router.post("/ask")
    async def ask(assistant: BoundAgent = Depends(use_agent("assistent"))) -> str:
        return "never"

    bare_app.include_router(router)
    with pytest.raises(ImproperlyConfigured, match=r"in POST /assistant/ask: .*did you mean 'assistant'\?"):
        bare_app.configure_plugins()


async def test_declared_tools_and_agents_start_and_answer(bare_app: FastMango) -> None:
    post_tools()
    agent("assistant", tools=["search_posts", "post_*"], model=TestModel(call_tools=[]))

    @bare_app.get("/ask")
    async def ask(assistant: BoundAgent = Depends(use_agent("assistant"))) -> str:
        return str((await assistant.run("hi")).output)

    async with started(bare_app) as client:
        response = await client.get("/ask")
    assert response.status_code == 200


async def test_an_agent_declared_after_start_up_with_a_typo_fails_when_run_not_runs_without_tools(
    client: httpx.AsyncClient,
) -> None:
    post_tools()
    late = agent("late", tools=["post_lst"], model=TestModel())
    with pytest.raises(ImproperlyConfigured, match=r"agent 'late'.*'post_lst'.*did you mean 'post_list'\?"):
        await late.run("hi")
