from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from fastmango.ai import agent, registry, tool
from fastmango.ai.agents import AgentSpec, _agents, state
from fastmango.core.errors import FastMangoError
from fastmango.core.settings import Settings
from fastmango.testing import record_model, recording, replay_model, replaying
from fastmango.testing.replay import ReplayMiss


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A tool and an agent of this test only, no metering and no response cache."""
    tools, declared = dict(registry._tools), dict(_agents)
    monkeypatch.setattr(state, "settings", Settings(ai_metering=False, ai_cache_ttl=0))
    monkeypatch.setattr(state, "app", None)

    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    yield
    registry._tools.clear()
    registry._tools.update(tools)
    _agents.clear()
    _agents.update(declared)


class Calculator:
    """A scripted model: calls ``add`` once, then answers with the tool's result. Counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.calls += 1
        returns = [p.content for m in messages for p in m.parts if isinstance(p, ToolReturnPart)]
        if not returns:
            return ModelResponse(parts=[ToolCallPart("add", {"a": 2, "b": 3}, tool_call_id="call-1")])
        return ModelResponse(parts=[TextPart(f"The sum is {returns[0]}.")])


def calculator_agent() -> tuple[AgentSpec, Calculator]:
    model = Calculator()
    return agent("calculator", instructions="Add numbers.", tools=["add"], model=FunctionModel(model)), model


async def test_a_recorded_conversation_replays_without_calling_the_model(tmp_path: Path) -> None:
    path = tmp_path / "calc.json"
    spec, model = calculator_agent()
    with recording(spec, path):
        recorded = await spec.run("What is 2 + 3?")
    assert recorded.output == "The sum is 5."
    assert model.calls == 2

    saved = json.loads(path.read_text())
    assert saved["agent"] == "calculator" and len(saved["exchanges"]) == 2
    assert saved["exchanges"][0]["response"]["parts"][0]["tool_name"] == "add"

    with replaying(spec, path):
        replayed = await spec.run("What is 2 + 3?")
    assert replayed.output == "The sum is 5."
    assert model.calls == 2  # the original model was never asked
    assert [type(m).__name__ for m in replayed.all_messages()] == [type(m).__name__ for m in recorded.all_messages()]
    assert spec.model.function is model  # the agent's own model is back after the block  # type: ignore[attr-defined]


async def test_a_request_off_the_recording_names_the_agent_and_the_differing_message(tmp_path: Path) -> None:
    path = tmp_path / "calc.json"
    spec, _ = calculator_agent()
    with recording(spec, path):
        await spec.run("What is 2 + 3?")

    with replaying(spec, path), pytest.raises(ReplayMiss) as miss:
        await spec.run("What is 7 + 1?")
    message = str(miss.value)
    assert "agent 'calculator'" in message
    assert "message 0 differs" in message
    assert "What is 2 + 3?" in message and "What is 7 + 1?" in message


async def test_replay_model_can_be_passed_as_the_agents_model(tmp_path: Path) -> None:
    path = tmp_path / "calc.json"
    model = Calculator()
    spec = agent("calculator", tools=["add"], model=record_model(FunctionModel(model), path, agent="calculator"))
    await spec.run("What is 2 + 3?")

    replayed = agent("calculator", tools=["add"], model=replay_model(path))
    assert (await replayed.run("What is 2 + 3?")).output == "The sum is 5."
    assert model.calls == 2


async def test_a_streamed_run_replays_too(tmp_path: Path) -> None:
    path = tmp_path / "calc.json"
    spec, model = calculator_agent()
    with recording(spec, path):
        await spec.run("What is 2 + 3?")

    with replaying(spec, path):
        events = [event async for event in spec.bind().events("What is 2 + 3?")]
    assert {"event": "tool_call", "data": {"tool": "add", "args": '{"a":2,"b":3}'}} in events
    assert events[-1] == {"event": "output", "data": "The sum is 5."}
    assert model.calls == 2


def test_a_missing_recording_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FastMangoError, match=r"no recording at .*missing\.json; record it first"):
        replay_model(tmp_path / "missing.json")


def test_recording_a_model_alias_resolves_it(tmp_path: Path) -> None:
    spec = agent("calculator", tools=["add"], model="default")
    with recording(spec, tmp_path / "calc.json") as model:
        assert type(model.wrapped).__name__ == "TestModel"
    assert spec.model == "default"
