"""Metering: every model request and tool call of a fastmango agent run lands in ai_usage, attributed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Depends
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel
from pydantic_ai.usage import RequestUsage

import fastmango
from fastmango import FastMango
from fastmango.ai import UsageRecord, agent, capabilities, flush_usage, use_agent
from fastmango.ai.agents import BoundAgent
from tests.ai.conftest import empty_usage_ledger, make_user
from tests.ai.test_openai_wire import login


@pytest.fixture
async def usage(app: FastMango, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """The AI test client with an empty ai_usage table and an empty usage buffer."""
    await empty_usage_ledger(app)
    try:
        yield client
    finally:
        await empty_usage_ledger(app)


def scripted(*steps: Any, tokens: tuple[int, int] = (10, 5)) -> tuple[FunctionModel, list[int]]:
    """A FunctionModel answering ``steps`` in turn (a tuple is a tool call); ``calls[0]`` counts its invocations."""
    calls = [0]

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls[0] += 1
        step = steps[min(calls[0] - 1, len(steps) - 1)]
        usage = RequestUsage(input_tokens=tokens[0], output_tokens=tokens[1])
        if isinstance(step, tuple):
            return ModelResponse(parts=[ToolCallPart(step[0], step[1], tool_call_id=f"c{calls[0]}")], usage=usage)
        if isinstance(step, Exception):
            raise step
        return ModelResponse(parts=[TextPart(step)], usage=usage)

    return FunctionModel(respond), calls


async def rows() -> list[UsageRecord]:
    await flush_usage()
    return await UsageRecord.objects.order_by("id")


async def test_run_and_tool_calls_are_recorded_with_tokens_and_attribution(
    usage: httpx.AsyncClient, app: FastMango
) -> None:
    @fastmango.tool
    async def stock(title: str) -> int:
        """Copies in stock."""
        return 3

    model, _ = scripted(("stock", {"title": "Dune"}), "3 copies")
    agent("clerk", tools=["stock"], model=model)

    @app.post("/ask")
    async def ask(clerk: BoundAgent = Depends(use_agent("clerk"))) -> dict[str, str]:
        return {"answer": (await clerk.run("how many Dune?")).output}

    await make_user("ann")
    assert (await usage.post("/ask", headers=await login(usage, "ann"))).json() == {"answer": "3 copies"}

    records = await rows()
    ann = await fastmango.auth.User.objects.get(username="ann")  # type: ignore[attr-defined]
    assert [(r.kind, r.tool, r.input_tokens, r.output_tokens, r.requests) for r in records] == [
        ("model", None, 10, 5, 1),
        ("tool", "stock", 0, 0, 0),
        ("model", None, 10, 5, 1),
    ]
    assert {(r.agent, r.user_id, r.route, r.provider, r.status) for r in records} == {
        ("clerk", ann.id, "/ask", "function", "ok")
    }
    assert len({r.run_id for r in records}) == 1 and records[0].run_id
    assert all(r.cost is None for r in records)  # FunctionModel has no price: unknown, not 0
    assert records[0].time.tzinfo is not None and records[0].latency_ms >= 0


async def test_model_errors_are_recorded(usage: httpx.AsyncClient) -> None:
    model, _ = scripted(RuntimeError("boom"))
    support = agent("support", model=model)
    with pytest.raises(RuntimeError):
        await support.run("hi")
    [record] = await rows()
    assert (record.status, record.error_type, record.agent, record.user_id) == (
        "error",
        "RuntimeError",
        "support",
        None,
    )


async def test_tool_errors_are_recorded(usage: httpx.AsyncClient) -> None:
    @fastmango.tool
    async def broken() -> int:
        """Fails."""
        raise ValueError("no")

    model, _ = scripted(("broken", {}), "sorry")
    await agent("support", tools=["broken"], model=model).run("hi")
    tool_rows = [r for r in await rows() if r.kind == "tool"]
    assert [(r.tool, r.status) for r in tool_rows] == [("broken", "error")]


async def test_plain_pydantic_ai_agent_is_metered_with_capabilities(usage: httpx.AsyncClient) -> None:
    plain = Agent(TestModel(custom_output_text="hello"), name="plain", capabilities=capabilities())
    assert (await plain.run("hi")).output == "hello"
    [record] = await rows()
    assert (record.agent, record.model, record.requests, record.cost) == ("plain", "test", 1, None)
    assert record.input_tokens > 0 and record.output_tokens > 0


async def test_tool_call_limit_fails_extra_calls(usage: httpx.AsyncClient, app: FastMango) -> None:
    calls = []

    @fastmango.tool
    async def ping() -> str:
        """Ping."""
        calls.append(1)
        return "pong"

    app.settings.ai_tool_calls_limit = 1
    model, _ = scripted(("ping", {}), ("ping", {}), "done")
    await agent("pinger", tools=["ping"], model=model).bind(app=app).run("go")
    assert len(calls) == 1
    tool_rows = [(r.status, r.error_type) for r in await rows() if r.kind == "tool"]
    assert tool_rows == [("ok", None), ("refused", "ToolCallLimit")]


async def test_usage_report_endpoint_is_staff_only_and_totals(usage: httpx.AsyncClient, app: FastMango) -> None:
    from fastmango.cli.ai_usage import render

    for _ in range(2):
        model, _ = scripted("ok", tokens=(7, 3))
        await agent("support", model=model).bind(app=app).run("hi")
    await make_user("ann")
    staff = await make_user("boss")
    staff.is_staff = True
    await staff.save()
    assert (await usage.get("/ai/usage", headers=await login(usage, "ann"))).status_code == 403
    response = await usage.get("/ai/usage?by=agent&since=1d", headers=await login(usage, "boss"))
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["since"].endswith("Z") and report["until"] is None  # as every JSON datetime fastmango writes
    [row] = report["rows"]
    assert (row["key"], row["requests"], row["input_tokens"], row["output_tokens"]) == ("support", 2, 14, 6)
    assert report["total"]["cost"] is None and report["total"]["cache_hit_rate"] == 0
    table = render(report, "table").splitlines()
    assert table[0].split()[:3] == ["agent", "requests", "tool_calls"] and table[-1].startswith("TOTAL")
    assert render(report, "csv").splitlines()[-1].startswith("TOTAL,2,0,14,6")
