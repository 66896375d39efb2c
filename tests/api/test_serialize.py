"""One JSON form for datetimes: the same row reads the same through CRUD, ``/auth/me``, tool results and MCP."""

from __future__ import annotations

import datetime
import decimal
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from pydantic import TypeAdapter
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from fastmango import FastMango
from fastmango.ai import AgentDeps, expose_model, registry
from fastmango.api import CRUDRouter
from fastmango.api.serialize import dumps
from fastmango.auth import User
from tests.api.conftest import token
from tests.auth.conftest import (
    database_url,  # noqa: F401  (fixture)
    make_settings,
    started,
)

UTC_FORM = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    """The tools this module declares do not outlive it."""
    tools = dict(registry._tools)
    yield
    registry._tools.clear()
    registry._tools.update(tools)


@pytest.fixture
async def client(database_url: str) -> Any:  # noqa: F811
    app = FastMango(settings=make_settings(database_url), configure_logging=False)
    app.include_router(CRUDRouter(User, prefix="/users", permissions=False, actions=("list", "get")))
    async with started(app) as client:
        yield client


@pytest.mark.parametrize(
    "value",
    [
        datetime.datetime(2025, 1, 31, 9, 30, tzinfo=datetime.UTC),
        datetime.datetime(2025, 1, 31, 9, 30, 0, 123456, tzinfo=datetime.UTC),
        datetime.datetime(2025, 1, 31, 9, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        datetime.datetime(2025, 1, 31, 9, 30),
    ],
)
def test_dumps_writes_datetimes_as_pydantic_does(value: datetime.datetime) -> None:
    assert dumps({"at": value}) == b'{"at":' + TypeAdapter(datetime.datetime).dump_json(value) + b"}"


def test_dumps_writes_utc_with_z() -> None:
    at = datetime.datetime(2025, 1, 31, 9, 30, tzinfo=datetime.UTC)
    assert orjson.loads(dumps({"at": at, "price": decimal.Decimal("9.50")})) == {
        "at": "2025-01-31T09:30:00Z",
        "price": "9.50",
    }


async def _tool_result_seen_by_a_model(tool: str, args: dict[str, Any]) -> Any:
    """What a model reads back after calling ``tool``: Pydantic AI's text of the tool's return value."""
    seen: list[list[ModelMessage]] = []

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.append(list(messages))
        if len(seen) == 1:
            return ModelResponse(parts=[ToolCallPart(tool, args, tool_call_id="call1")])
        return ModelResponse(parts=[TextPart("done")])

    agent = Agent(FunctionModel(respond), deps_type=AgentDeps, toolsets=[registry.toolset([tool])])
    await agent.run("get it", deps=AgentDeps())
    returns = [part for message in seen[-1] for part in message.parts if isinstance(part, ToolReturnPart)]
    assert [part.tool_name for part in returns] == [tool], seen[-1]
    return json.loads(returns[0].model_response_str())


async def _tool_result_over_mcp(app: Any, tool: str, args: dict[str, Any]) -> Any:
    from mcp import Client

    from fastmango.ai.mcp import build_server

    async with Client(build_server(app)) as mcp:
        result = await mcp.call_tool(tool, args)
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)  # type: ignore[union-attr]


async def test_a_rows_datetime_reads_the_same_through_crud_auth_me_and_tools(client: httpx.AsyncClient) -> None:
    headers = await token(client, "ada")
    user = await User.objects.get(username="ada")
    me = (await client.get("/auth/me", headers=headers)).json()
    got = (await client.get(f"/users/{user.id}")).json()
    listed = (await client.get("/users")).json()["items"]
    expose_model(User, actions=("get",), permissions=False)
    tool = await _tool_result_seen_by_a_model("auth_user_get", {"pk": user.id})
    over_mcp = await _tool_result_over_mcp(client._transport.app, "auth_user_get", {"pk": user.id})  # type: ignore[attr-defined]

    assert UTC_FORM.match(me["date_joined"]), me["date_joined"]
    forms = {
        "/auth/me": me["date_joined"],
        "CRUD get": got["date_joined"],
        "CRUD list": listed[0]["date_joined"],
        "tool result": tool["date_joined"],
        "MCP tool result": over_mcp["date_joined"],
    }
    assert set(forms.values()) == {me["date_joined"]}, forms
    assert got["last_login"] == me["last_login"] and UTC_FORM.match(got["last_login"])
