"""Agents over the registry: ``agent("support", instructions=..., tools=["search_books", "book_*"])``.

``use_agent("support")`` is a FastAPI dependency giving the route an agent bound to the caller: its runs
carry the user and the request as ``deps``, so every tool runs with the caller's permissions.

A typo fails at start-up: when the app is configured (after discovery has loaded the project's tools),
:func:`check_agents` checks that each tool name or pattern of every agent matches a registered tool, and that
each ``use_agent`` name in the app's routes names a declared agent (``ImproperlyConfigured`` naming the close
match), rather than an agent running without its tools or a route failing at its first request.
"""

from __future__ import annotations

import difflib
import inspect
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi import Depends, Request

from fastmango.ai.context import AgentDeps
from fastmango.ai.llm import resolve_model
from fastmango.ai.registry import Registry, registry
from fastmango.auth.dependencies import optional_user
from fastmango.core import recorder
from fastmango.core.errors import FastMangoError, ImproperlyConfigured, ProblemError
from fastmango.core.problems import default_problem_type, problem_type

logger = logging.getLogger("fastmango.ai")


class _State:
    """Settings and app of the running project, set by the AI plugin (or ``fastmango.setup()``)."""

    settings: Any = None
    app: Any = None


state = _State()


@dataclass
class AgentSpec:
    """A declared agent: instructions, tool name patterns and a model alias (or Pydantic AI model)."""

    name: str
    instructions: str | None
    tools: tuple[str, ...]
    model: Any
    output_type: Any = str
    options: dict[str, Any] = field(default_factory=dict)
    registry: Registry = field(default=registry)
    cache_ttl: float | None = None
    shared: bool = False
    _built: dict[int, Any] = field(default_factory=dict, repr=False)

    def build(self, settings: Any = None) -> Any:
        """The Pydantic AI ``Agent`` (built once per settings object)."""
        settings = settings or state.settings
        if settings is None:
            from fastmango.core.settings import Settings

            settings = Settings()
        key = id(settings)
        if key not in self._built:
            self.check()  # declared after the app started (its check ran without it): fail, not run without tools
            from pydantic_ai import Agent, DeferredToolRequests

            from fastmango.ai.metering import capabilities

            output_type = self.output_type
            if any(spec.requires_approval for spec in self.registry.match(self.tools)):
                output_type = [output_type, DeferredToolRequests]
            options = dict(self.options)
            extra = list(options.pop("capabilities", None) or [])
            fastmango_capabilities = capabilities(
                settings, agent=self.name, cache_ttl=self.cache_ttl, shared=self.shared, registry=self.registry
            )
            self._built[key] = Agent(
                resolve_model(self.model, settings),
                capabilities=[*fastmango_capabilities, *extra],
                name=self.name,
                instructions=self.instructions,
                deps_type=AgentDeps,
                output_type=output_type,
                toolsets=[self.registry.toolset(self.tools)],
                **options,
            )
            if getattr(settings, "logfire", False):
                Agent.instrument_all()  # traces to Logfire, configured by the logging setup
        return self._built[key]

    def check(self) -> None:
        """Check that each of ``tools`` names (or, a glob, matches) a tool of the registry.

        Raises:
            ImproperlyConfigured: a name or pattern matches no tool; the message names the agent and the close match.
        """
        names = [spec.name for spec in self.registry]
        for pattern in self.tools:
            if self.registry.match([pattern]):
                continue
            close = difflib.get_close_matches(pattern, _candidates(pattern, names), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            shown = ", ".join(names[:30]) + (f", ... ({len(names) - 30} more)" if len(names) > 30 else "")
            raise ImproperlyConfigured(
                f"agent {self.name!r}: tools={list(self.tools)!r}: {pattern!r} matches no registered tool{hint} "
                f"(registered: {shown or 'none'})"
            )

    def bind(self, user: Any = None, request: Request | None = None, app: Any = None) -> BoundAgent:
        """This agent acting for ``user`` (None: anonymous)."""
        return BoundAgent(self, AgentDeps(user=user, request=request, app=app or state.app))

    async def run(self, prompt: str, *, user: Any = None, request: Request | None = None, **kwargs: Any) -> Any:
        """Run once for ``user``; see :meth:`BoundAgent.run`."""
        return await self.bind(user, request).run(prompt, **kwargs)


@dataclass
class BoundAgent:
    """An agent bound to a caller. ``await support.run(q)`` returns Pydantic AI's run result."""

    spec: AgentSpec
    deps: AgentDeps

    @property
    def agent(self) -> Any:
        """The underlying Pydantic AI agent."""
        settings = getattr(getattr(self.deps.app, "settings", None), "ai_models", None) and self.deps.app.settings
        return self.spec.build(settings or None)

    async def run(self, prompt: str | None, **kwargs: Any) -> Any:
        """Run the agent (``prompt`` None: resume a history, e.g. with ``deferred_tool_results``). Provider failures
        become 502/503/504 problem details naming the provider."""
        agent = self.agent
        async with recorder.recording("agent", self.spec.name, user=_username(self.deps.user)):
            with provider_errors(_system(agent)):
                return await agent.run(prompt, deps=self.deps, **kwargs)

    async def events(self, prompt: str, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        """The run as events: ``text`` deltas, ``tool_call`` / ``tool_result`` and a final ``output``."""
        from pydantic_ai import AgentRunResultEvent
        from pydantic_ai.messages import (
            FunctionToolCallEvent,
            FunctionToolResultEvent,
            PartDeltaEvent,
            PartStartEvent,
            TextPart,
            TextPartDelta,
        )

        agent = self.agent
        # Not a record of its own (a context variable set in a generator leaks into its consumer between items):
        # the calls of a streamed run are in the record of the request that streams it.
        with provider_errors(_system(agent)):
            async with agent.run_stream_events(prompt, deps=self.deps, **kwargs) as stream:
                async for event in stream:
                    if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                        if event.part.content:  # a text part starts with its first chunk
                            yield {"event": "text", "data": event.part.content}
                    elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                        yield {"event": "text", "data": event.delta.content_delta}
                    elif isinstance(event, FunctionToolCallEvent):
                        yield {"event": "tool_call", "data": {"tool": event.part.tool_name, "args": event.part.args}}
                    elif isinstance(event, FunctionToolResultEvent):
                        yield {"event": "tool_result", "data": {"tool": event.part.tool_name}}
                    elif isinstance(event, AgentRunResultEvent):
                        yield {"event": "output", "data": _jsonable(event.result.output)}

    def stream(self, prompt: str, **kwargs: Any) -> Any:
        """A server-sent events response of :meth:`events`.

        A run that fails once the response has begun (the provider, the database, Redis, a bug) ends the stream
        with an ``error`` event whose data is the problem document the request would have been answered with
        (``type``, ``title``, ``status``, ``detail``; no internals outside DEBUG), not with a cut connection.
        """
        from sse_starlette.sse import EventSourceResponse

        async def encoded() -> AsyncIterator[dict[str, str]]:
            try:
                async for item in self.events(prompt, **kwargs):
                    yield {"event": item["event"], "data": _json(item["data"])}
            except Exception as exc:
                yield {"event": "error", "data": _json(await self._problem_of(exc))}

        return EventSourceResponse(encoded())

    async def _problem_of(self, exc: Exception) -> dict[str, Any]:
        """The problem document of ``exc``: what the app's exception handlers answer for it over HTTP."""
        request = self.deps.request
        handlers: dict[Any, Any] = getattr(self.deps.app, "exception_handlers", None) or {}
        handler = next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)
        if request is not None and handler is not None:
            try:
                response = handler(request, exc)
                if inspect.isawaitable(response):
                    response = await response
                document = json.loads(response.body)
                if isinstance(document, dict) and "status" in document:
                    return document
            except Exception:
                logger.exception("the error handler of %s failed", type(exc).__name__)
        if isinstance(exc, ProblemError):
            return {
                "type": exc.type or default_problem_type(exc.status),
                "title": exc.title or _phrase(exc.status),
                "status": exc.status,
                "detail": exc.detail,
            }
        logger.error("the streamed run of agent %s failed", self.spec.name, exc_info=exc)
        return {
            "type": problem_type("internal-error"),
            "title": "Internal Server Error",
            "status": 500,
            "detail": "The agent's run failed unexpectedly; the error is logged on the server.",
        }


_agents: dict[str, AgentSpec] = {}


def agent(
    name: str,
    *,
    instructions: str | None = None,
    tools: Sequence[str] = (),
    model: Any = "default",
    output_type: Any = str,
    cache_ttl: float | None = None,
    shared: bool = False,
    **options: Any,
) -> AgentSpec:
    """Declare (or redeclare) an agent.

    Args:
        name: How routes, the CLI and MCP refer to it.
        instructions: The system instructions.
        tools: Registry tool names or globs (``["search_books", "book_*"]``).
        model: An alias of ``settings.ai_models`` or a Pydantic AI model instance (tests pass a ``FunctionModel``).
        output_type: Pydantic AI output type (``str`` by default).
        cache_ttl: Seconds an identical model request is answered from the response cache (None:
            ``settings.ai_cache_ttl``; 0: never).
        shared: Whether cached responses are shared between users (by default each user has their own).
        **options: Passed to ``pydantic_ai.Agent`` (``retries``, ``model_settings``...).
    """
    spec = AgentSpec(name, instructions, tuple(tools), model, output_type, options, cache_ttl=cache_ttl, shared=shared)
    _agents[name] = spec
    return spec


def get_agent(name: str) -> AgentSpec:
    """The agent declared as ``name``."""
    try:
        return _agents[name]
    except KeyError:
        raise FastMangoError(f"no agent named {name!r}; declared: {', '.join(sorted(_agents)) or 'none'}") from None


def agents() -> list[AgentSpec]:
    """Every declared agent."""
    return [_agents[name] for name in sorted(_agents)]


async def close_http_clients(settings: Any) -> None:
    """Close the HTTP connections the models of the agents built for ``settings`` opened to their providers (the
    AI plugin does it when the app stops). A later run opens new ones."""
    for spec in list(_agents.values()):
        model: Any = getattr(spec._built.get(id(settings)), "model", None)
        if hasattr(model, "__aenter__"):
            # Pydantic AI closes the client a provider made itself when the model's context ends; runs do not
            # enter it, so each one would otherwise leave its connections open.
            async with model:
                pass


def use_agent(name: str) -> Callable[..., Any]:
    """A FastAPI dependency: the agent ``name`` bound to the request's user (anonymous allowed).

    The name is checked when the app is configured (:func:`check_agents`): one no agent is declared as is an
    error at start-up, not at the route's first request.
    """

    async def dependency(request: Request, user: Any = Depends(optional_user)) -> BoundAgent:
        return get_agent(name).bind(user, request, request.app)

    dependency.__name__ = f"use_agent_{name}"
    setattr(dependency, _AGENT_NAME, name)
    return dependency


_AGENT_NAME = "__fastmango_agent__"


def check_agents(app: Any = None) -> None:
    """Check every declared agent's tools against its registry, and the ``use_agent`` names of ``app``'s routes.

    The AI plugin calls it when the app is configured, once discovery has loaded the project's tools and agents.

    Raises:
        ImproperlyConfigured: a tool name or pattern matches no tool, or a route uses an agent no one declared; the
            message names the agent (or the route) and the close match.
    """
    for spec in agents():
        spec.check()
    if app is None:
        return
    for route, name in _used_agents(app):
        if name not in _agents:
            close = difflib.get_close_matches(name, list(_agents), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ImproperlyConfigured(
                f"use_agent({name!r}) in {route}: no agent is declared as {name!r}{hint} "
                f"(declared: {', '.join(sorted(_agents)) or 'none'})"
            )


def _used_agents(app: Any) -> Iterator[tuple[str, str]]:
    """``(route, agent name)`` for each ``use_agent`` dependency of the app's routes, included routers' too."""
    from fastapi import routing

    # FastAPI 0.165 keeps an included router as one route; iter_route_contexts gives its routes, with the
    # dependencies the include added. Earlier releases copied the routes into the app's list.
    iterate = getattr(routing, "iter_route_contexts", None)
    for route in iterate(app.routes) if iterate is not None else app.routes:
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        label = f"{' '.join(sorted(getattr(route, 'methods', None) or ()))} {getattr(route, 'path', '?')}".strip()
        stack = [dependant]
        while stack:
            current = stack.pop()
            name = getattr(current.call, _AGENT_NAME, None)
            if isinstance(name, str):
                yield label, name
            stack.extend(current.dependencies)


def _candidates(pattern: str, names: list[str]) -> list[str]:
    """What a pattern may have meant: the names, and for a glob also each name's prefixes as globs (``post_*``)."""
    if not any(char in pattern for char in "*?["):
        return names
    globs = {name[: index + 1] + "*" for name in names for index, char in enumerate(name) if char == "_"}
    return [*names, *sorted(globs)]


class provider_errors:
    """Turns provider failures into problem details: 502 (rejected or failed), 503 (rate limited), 504 (timeout)."""

    def __init__(self, provider: str | None = None) -> None:
        self.provider = provider

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None or isinstance(exc, (FastMangoError, ImproperlyConfigured)):
            return
        from pydantic_ai.exceptions import ModelAPIError, ModelHTTPError, UnexpectedModelBehavior

        if isinstance(exc, UnexpectedModelBehavior):
            # The model answered what the run cannot follow (two tool calls with one id, retries exhausted...).
            provider = self.provider or "model"
            raise ProblemError(
                502,
                f"The AI {provider} answered in a way the agent cannot follow: {exc.message}",
                title="AI provider error",
                type=problem_type("ai-provider-error"),
            ) from None
        if isinstance(exc, ModelHTTPError):
            provider = self.provider or _provider(exc.model_name)
            if exc.status_code == 429:
                raise ProblemError(
                    503,
                    f"The AI provider {provider} is rate limiting; retry later.",
                    title="AI provider busy",
                    type=problem_type("ai-provider-busy"),
                    headers={"Retry-After": "30"},
                ) from None
            if exc.status_code in (401, 403):
                raise ProblemError(
                    502,
                    f"The AI provider {provider} refused the credentials; check its API key setting.",
                    title="AI provider error",
                    type=problem_type("ai-provider-error"),
                ) from None
            if exc.status_code in (408, 504):
                raise ProblemError(
                    504,
                    f"The AI provider {provider} timed out.",
                    title="AI provider timeout",
                    type=problem_type("ai-provider-timeout"),
                ) from None
            raise ProblemError(
                502,
                f"The AI provider {provider} failed (HTTP {exc.status_code}).",
                title="AI provider error",
                type=problem_type("ai-provider-error"),
            ) from None
        if isinstance(exc, ModelAPIError) or type(exc).__name__ in {"APITimeoutError", "ReadTimeout", "ConnectTimeout"}:
            provider = self.provider or _provider(getattr(exc, "model_name", ""))
            timed_out = "timeout" in type(exc).__name__.lower() or "timed out" in str(exc).lower()
            if timed_out:
                raise ProblemError(
                    504,
                    f"The AI provider {provider} timed out.",
                    title="AI provider timeout",
                    type=problem_type("ai-provider-timeout"),
                ) from None
            raise ProblemError(
                502,
                f"The AI provider {provider} could not be reached.",
                title="AI provider error",
                type=problem_type("ai-provider-error"),
            ) from None


def _username(user: Any) -> str | None:
    return getattr(user, "username", None) if getattr(user, "is_authenticated", False) else None


def _system(agent: Any) -> str | None:
    """The provider of an agent's model (``openai``), when it says."""
    return getattr(agent.model, "system", None) if not isinstance(agent.model, str) else agent.model.split(":")[0]


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _provider(model_name: str) -> str:
    return model_name.split(":")[0] if model_name else "the model provider"


def _json(value: Any) -> str:
    """JSON text as Pydantic writes it (datetimes ``2025-01-31T09:30:00Z``, as in every other response)."""
    from pydantic_core import to_json

    return to_json(value, fallback=str).decode()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value
