"""The Pydantic AI toolset of the registry: each run sees only the tools its user may use.

Permissions are checked twice: when the tools are listed for the model, and again when one is called, so a
model cannot call a tool it was not offered. A tool's own errors become messages to the model: invalid
arguments a retry prompt, anything else a failed call saying in words what failed (no traceback, no exception
class, no statement).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ApprovalRequired, CallDeferred, ModelRetry, ToolFailed
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets import AbstractToolset
from pydantic_ai.toolsets.abstract import ToolsetTool
from pydantic_ai.toolsets.external import TOOL_SCHEMA_VALIDATOR

from fastmango.ai.context import AgentDeps, ToolContext
from fastmango.ai.tool_errors import describe_failure
from fastmango.core import recorder
from fastmango.core.errors import ProblemError

if TYPE_CHECKING:
    from fastmango.ai.registry import Registry, ToolSpec

logger = logging.getLogger("fastmango.ai")


class ToolPermissionDenied(ToolFailed):
    """A call to a tool the user may not use."""


def describe_validation_error(error: ValidationError) -> str:
    """The errors of a tool's arguments, one per line, for the model to correct."""
    lines = []
    for item in error.errors():
        location = ".".join(str(part) for part in item.get("loc", ())) or "arguments"
        lines.append(f"{location}: {item.get('msg')}")
    return "Invalid arguments:\n" + "\n".join(lines)


class RegistryToolset(AbstractToolset[AgentDeps]):
    """Offers the registry's tools matching ``patterns`` that the run's user may use."""

    def __init__(self, registry: Registry, patterns: list[str] | None, max_retries: int = 2) -> None:
        self.registry = registry
        self.patterns = patterns
        self.max_retries = max_retries

    @property
    def id(self) -> str | None:
        return "fastmango-registry"

    async def get_tools(self, ctx: RunContext[AgentDeps]) -> dict[str, ToolsetTool[AgentDeps]]:
        user = _user(ctx)
        tools: dict[str, ToolsetTool[AgentDeps]] = {}
        allowed = await self.registry.allowed(user, self.patterns)
        if recorder.current() is not None:
            offered = {spec.name for spec in allowed}
            for spec in self.registry.match(self.patterns):
                if spec.name not in offered:  # hidden from this user: the model never learns it exists
                    recorder.note("ai", _decision(spec, user, False))
        for spec in allowed:
            definition = ToolDefinition(
                name=spec.name,
                description=spec.description,
                parameters_json_schema=spec.parameters,
                kind="unapproved" if spec.requires_approval else "function",
            )
            tools[spec.name] = ToolsetTool(
                toolset=self, tool_def=definition, max_retries=self.max_retries, args_validator=TOOL_SCHEMA_VALIDATOR
            )
        return tools

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[AgentDeps], tool: ToolsetTool[AgentDeps]
    ) -> Any:
        spec = self.registry.get(name)
        return await run_tool(spec, ToolContext.from_run(ctx), tool_args)


async def run_tool(spec: ToolSpec, context: ToolContext, args: dict[str, Any]) -> Any:
    """Check permissions, run ``spec`` and turn its errors into what the model should see.

    An error the tool did not mean for the model (a database outage, a bug) is described in words
    (:func:`~fastmango.ai.tool_errors.describe_failure`), never by its class or message, and logged.
    """
    try:
        allowed = await spec.allowed_for(context.user)
        recorder.note("ai", _decision(spec, context.user, allowed))
        if not allowed:
            raise ToolPermissionDenied(f"You may not use the tool {spec.name!r}.")
        run = context.run
        if spec.requires_approval and not getattr(run, "tool_call_approved", False):
            raise ApprovalRequired
        return await spec.call(context, args)
    except ValidationError as exc:
        raise ModelRetry(describe_validation_error(exc)) from None
    except (ModelRetry, ToolFailed, ApprovalRequired, CallDeferred):
        raise
    except ProblemError as exc:
        # An endpoint's or the API layer's answer (403, 404, 409, a bad filter): the model may adapt.
        if exc.status in (400, 422):
            raise ModelRetry(exc.detail or exc.title or "Invalid arguments.") from None
        raise ToolFailed(f"{exc.status} {exc.title or ''}: {exc.detail or ''}".strip()) from None
    except Exception as exc:
        failure = describe_failure(spec.name, exc)
        if failure.expected:
            logger.warning("tool %s failed: %s: %s", spec.name, type(exc).__name__, exc)
        else:
            logger.exception("tool %s failed", spec.name)
        raise (ModelRetry if failure.retry else ToolFailed)(failure.message) from None


def _decision(spec: ToolSpec, user: Any, allowed: bool) -> dict[str, Any]:
    """The debug record's entry of a permission decision: who, which tool, allowed or denied, and why."""
    who = getattr(user, "username", None) or "anonymous"
    needs = ", ".join(spec.permissions) or ("nothing" if spec.allow_anonymous else "a logged-in user")
    verdict = "allowed" if allowed else "denied"
    return {
        "kind": "permission",
        "name": spec.name,
        "detail": f"{verdict} for {who}: needs {needs}",
        "allowed": allowed,
    }


def _user(ctx: RunContext[Any]) -> Any:
    return ctx.deps.user if isinstance(ctx.deps, AgentDeps) else None
