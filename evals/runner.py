"""What the eval datasets share: an agent run captured as data, and evaluators over it.

A dataset's task runs an agent and returns an :class:`AgentRun` (the answer plus the tool calls the model made and
the tools refused to it), so evaluators can check the right tool was chosen with the right arguments and that the
answer respects the asker's permissions, without tracing infrastructure (pydantic-evals' span-based evaluators need
OpenTelemetry configured).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.messages import ModelMessage, RetryPromptPart, ToolCallPart, ToolReturnPart
from pydantic_evals.evaluators import EvaluationReason, Evaluator, EvaluatorContext


@dataclass
class ToolCall:
    tool: str
    args: dict[str, Any]


@dataclass
class AgentRun:
    """What an eval task returns: the answer and what the model did to reach it."""

    answer: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # tools whose call was refused or failed


def captured(output: Any, messages: list[ModelMessage]) -> AgentRun:
    """An :class:`AgentRun` from a run's output and its messages."""
    calls = [
        ToolCall(part.tool_name, part.args_as_dict())
        for message in messages
        for part in message.parts
        if isinstance(part, ToolCallPart)
    ]
    refused = [
        part.tool_name
        for message in messages
        for part in message.parts
        if (isinstance(part, RetryPromptPart) and part.tool_name)
        or (isinstance(part, ToolReturnPart) and getattr(part, "outcome", "success") == "failed")
    ]
    return AgentRun(output if isinstance(output, str) else str(output), calls, [name for name in refused if name])


@dataclass
class UsedTool(Evaluator[Any, AgentRun, Any]):
    """The model called ``tool`` (or, with ``called=False``, never did)."""

    tool: str
    called: bool = True

    def evaluate(self, ctx: EvaluatorContext[Any, AgentRun, Any]) -> EvaluationReason:
        used = [call.tool for call in ctx.output.tool_calls]
        ok = (self.tool in used) == self.called
        return EvaluationReason(ok, None if ok else f"tools called: {used or 'none'}")


@dataclass
class ToolArguments(Evaluator[Any, AgentRun, Any]):
    """Some call of ``tool`` had at least ``args`` (strings compared case-insensitively)."""

    tool: str
    args: dict[str, Any]

    def evaluate(self, ctx: EvaluatorContext[Any, AgentRun, Any]) -> EvaluationReason:
        calls = [call.args for call in ctx.output.tool_calls if call.tool == self.tool]

        def same(a: Any, b: Any) -> bool:
            return a.lower() == b.lower() if isinstance(a, str) and isinstance(b, str) else a == b

        ok = any(all(key in args and same(args[key], value) for key, value in self.args.items()) for args in calls)
        return EvaluationReason(ok, None if ok else f"calls of {self.tool}: {calls or 'none'}")


@dataclass
class AnswerMentions(Evaluator[Any, AgentRun, Any]):
    """The answer contains ``text`` (case-insensitive), or with ``present=False`` does not."""

    text: str
    present: bool = True

    def evaluate(self, ctx: EvaluatorContext[Any, AgentRun, Any]) -> EvaluationReason:
        ok = (self.text.lower() in ctx.output.answer.lower()) == self.present
        return EvaluationReason(ok, None if ok else f"answer: {ctx.output.answer[:200]!r}")
