"""Agents over HTTP: the server-sent events of a streamed run, to the end even when the run fails."""

from __future__ import annotations

import datetime
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Request
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel
from redis.exceptions import ConnectionError as RedisConnectionError

from fastmango import FastMango
from fastmango.ai import agent
from fastmango.db.errors import DatabaseUnavailable


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
