"""Record an agent's model responses to a JSON file and replay them, offline and deterministically.

    with recording(assistant, "tests/cassettes/ask.json"):     # once, against the real model
        await assistant.run("What is new?")
    with replaying(assistant, "tests/cassettes/ask.json"):     # in the suite: no provider request is made
        await assistant.run("What is new?")

A recording is a list of exchanges: the messages a request sent (as ``ModelMessagesTypeAdapter`` dumps them) and
the response the model gave. Replay answers a request with the recorded response of the same messages; a request
that matches no recording raises :class:`ReplayMiss`, naming the agent and the first message that differs from
the closest recording. Timestamps, run ids and provider response ids are ignored when comparing.

``record_model`` / ``replay_model`` build the models themselves, to pass as ``agent(..., model=...)`` or as
``agent.run(..., model=...)``. Pydantic AI is imported by this module, so import it only where it is used.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from fastmango.core.errors import FastMangoError

FORMAT = 1

#: Fields that differ between two runs of the same conversation and do not change what the model is asked.
_VOLATILE = frozenset({"timestamp", "run_id", "conversation_id", "provider_response_id", "provider_details"})


class ReplayMiss(FastMangoError):
    """A request during replay whose messages match no recorded request."""


def _normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _normalized(item) for key, item in value.items() if key not in _VOLATILE}
    if isinstance(value, list):
        return [_normalized(item) for item in value]
    return value


def _comparable(message: dict[str, Any]) -> dict[str, Any]:
    """A dumped message with what does not change the next answer left out.

    A response in the history counts by its parts alone (not its usage, model name or provider ids), and tool
    call arguments by value, so a streamed run (arguments as a JSON string) matches a recorded one.
    """
    message = _normalized(message)
    if message.get("kind") != "response":
        return message
    parts = []
    for part in message.get("parts", []):
        part = {key: value for key, value in part.items() if key not in {"id", "provider_name", "provider_details"}}
        if isinstance(part.get("args"), str):
            with suppress(json.JSONDecodeError):
                part["args"] = json.loads(part["args"]) if part["args"] else {}
        parts.append(part)
    return {"kind": "response", "parts": parts}


def dump_messages(messages: list[ModelMessage]) -> list[dict[str, Any]]:
    """``messages`` as JSON-ready dicts in the form recordings store and compare (volatile fields dropped)."""
    return [_comparable(message) for message in ModelMessagesTypeAdapter.dump_python(messages, mode="json")]


def _dump_response(response: ModelResponse) -> dict[str, Any]:
    dumped: dict[str, Any] = ModelMessagesTypeAdapter.dump_python([response], mode="json")[0]
    return dumped


def _load_response(data: dict[str, Any]) -> ModelResponse:
    response = ModelMessagesTypeAdapter.validate_python([data])[0]
    assert isinstance(response, ModelResponse)
    return response


@dataclass
class Recording:
    """The exchanges of one recording file."""

    path: Path
    agent: str | None = None
    exchanges: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        """Read ``path``; a clear error when it is missing or not a recording."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise FastMangoError(
                f"no recording at {path}; record it first with fastmango.testing.recording()"
            ) from None
        except json.JSONDecodeError as exc:
            raise FastMangoError(f"{path} is not a recording: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("exchanges"), list):
            raise FastMangoError(f"{path} is not a fastmango recording (format {FORMAT})")
        return cls(path, data.get("agent"), list(data["exchanges"]))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"format": FORMAT, "agent": self.agent, "exchanges": self.exchanges}
        self.path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


class RecordingModel(WrapperModel):
    """Forwards every request to ``wrapped`` and appends the messages and the response to a recording file.

    The file is rewritten after each response, so a run that fails halfway still leaves what it got.
    """

    def __init__(self, wrapped: Model | str, path: str | Path, *, agent: str | None = None) -> None:
        super().__init__(wrapped)  # type: ignore[arg-type]
        self.recording = Recording(Path(path), agent)

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        response = await self.wrapped.request(messages, model_settings, model_request_parameters)
        self.recording.exchanges.append({"request": dump_messages(messages), "response": _dump_response(response)})
        self.recording.save()
        return response

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncIterator[StreamedResponse]:
        async with self.wrapped.request_stream(
            messages, model_settings, model_request_parameters, run_context
        ) as stream:
            yield stream
        self.recording.exchanges.append({"request": dump_messages(messages), "response": _dump_response(stream.get())})
        self.recording.save()


class ReplayModel(Model):
    """Answers each request with the recorded response of the same messages; :class:`ReplayMiss` otherwise.

    Identical requests recorded more than once are answered in recorded order (the last answer repeats).
    """

    def __init__(self, path: str | Path, *, agent: str | None = None) -> None:
        super().__init__()
        self.recording = Recording.load(path)
        self.agent = agent or self.recording.agent
        self._served: dict[int, int] = {}  # index of a request's first recording -> answers served

    @property
    def model_name(self) -> str:
        return "replay"

    @property
    def system(self) -> str:
        return "replay"

    def _lookup(self, messages: list[ModelMessage]) -> ModelResponse:
        sent = dump_messages(messages)
        matches = [i for i, exchange in enumerate(self.recording.exchanges) if exchange["request"] == sent]
        if not matches:
            raise ReplayMiss(self._describe_miss(sent))
        served = self._served.get(matches[0], 0)
        self._served[matches[0]] = served + 1
        return _load_response(self.recording.exchanges[matches[min(served, len(matches) - 1)]]["response"])

    def _describe_miss(self, sent: list[dict[str, Any]]) -> str:
        who = f"agent {self.agent!r}" if self.agent else "the agent"
        where = f"request {len(sent)} message(s) long matches no recording in {self.recording.path}"
        if not self.recording.exchanges:
            return f"replay miss for {who}: the {where} (the recording is empty)"

        def common(recorded: list[dict[str, Any]]) -> int:
            n = 0
            while n < min(len(recorded), len(sent)) and recorded[n] == sent[n]:
                n += 1
            return n

        closest = max((exchange["request"] for exchange in self.recording.exchanges), key=common)
        index = common(closest)
        got = _short(sent[index]) if index < len(sent) else "(no message)"
        expected = _short(closest[index]) if index < len(closest) else "(no message)"
        return (
            f"replay miss for {who}: the {where}; message {index} differs from the closest recording:\n"
            f"  recorded: {expected}\n  sent:     {got}\n"
            "Re-record with fastmango.testing.recording() if the conversation changed on purpose."
        )

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        return self._lookup(messages)

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncIterator[StreamedResponse]:
        from pydantic_ai.models.function import FunctionModel

        response = self._lookup(messages)
        # A FunctionModel streams a finished response as Pydantic AI's own models stream theirs.
        streamer = FunctionModel(stream_function=lambda _messages, _info: _chunks(response))
        async with streamer.request_stream(messages, model_settings, model_request_parameters, run_context) as stream:
            yield stream


async def _chunks(response: ModelResponse) -> AsyncIterator[Any]:
    from pydantic_ai.messages import TextPart, ToolCallPart
    from pydantic_ai.models.function import DeltaToolCall

    for index, part in enumerate(response.parts):
        if isinstance(part, TextPart):
            yield part.content
        elif isinstance(part, ToolCallPart):
            yield {index: DeltaToolCall(part.tool_name, part.args_as_json_str(), tool_call_id=part.tool_call_id)}


def _short(message: dict[str, Any], limit: int = 300) -> str:
    text = json.dumps(message, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def record_model(wrapped: Model | str, path: str | Path, *, agent: str | None = None) -> RecordingModel:
    """A model that forwards to ``wrapped`` and records each exchange to ``path`` (a new recording)."""
    return RecordingModel(wrapped, path, agent=agent)


def replay_model(path: str | Path, *, agent: str | None = None) -> ReplayModel:
    """A model that answers from the recording at ``path`` and raises :class:`ReplayMiss` on a miss."""
    return ReplayModel(path, agent=agent)


@contextmanager
def _swapped(spec: Any, model: Any) -> Iterator[Any]:
    saved_model, saved_built = spec.model, dict(spec._built)
    spec.model, spec._built = model, {}
    try:
        yield model
    finally:
        spec.model, spec._built = saved_model, saved_built


@contextmanager
def recording(spec: Any, path: str | Path, *, settings: Any = None) -> Iterator[RecordingModel]:
    """Within the block, ``spec``'s runs use its model (alias resolved) and are recorded to ``path``.

    Args:
        spec: An :class:`~fastmango.ai.AgentSpec` (``agent(...)``'s return value).
        path: The JSON file to write (replaced).
        settings: Settings that resolve a model alias (default: the running app's).
    """
    from fastmango.ai.agents import state
    from fastmango.ai.llm import resolve_model

    if isinstance(spec.model, str):
        from fastmango.core.settings import Settings

        wrapped = resolve_model(spec.model, settings or state.settings or Settings())
    else:
        wrapped = spec.model
    with _swapped(spec, record_model(wrapped, path, agent=spec.name)) as model:
        yield model


@contextmanager
def replaying(spec: Any, path: str | Path) -> Iterator[ReplayModel]:
    """Within the block, ``spec``'s runs are answered from the recording at ``path``; a miss raises."""
    with _swapped(spec, replay_model(path, agent=spec.name)) as model:
        yield model
