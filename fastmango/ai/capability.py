"""The fastmango Pydantic AI capability: metering, budgets, the tool call limit, the response cache, and the
permission scope of a run (its tool permission checks cost one query per user).

Every fastmango agent has it; a plain ``pydantic_ai.Agent`` gets it with
``Agent(..., capabilities=fastmango.ai.capabilities())``. It imports Pydantic AI, so it is imported only when an
agent is built.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.exceptions import ApprovalRequired, CallDeferred, ModelRetry, ToolFailed
from pydantic_ai.messages import ModelResponse
from pydantic_ai.usage import RequestUsage

from fastmango.ai import budgets, response_cache
from fastmango.ai.context import AgentDeps
from fastmango.ai.metering import UsageRecord, meter
from fastmango.auth.permission_scope import permission_scope


def response_cost(response: ModelResponse) -> float | None:
    """The price of ``response`` from genai-prices; None when the model or its price is unknown (never a made-up 0)."""
    if not response.model_name:
        return None
    try:
        return float(response.cost().total_price)
    except Exception:
        return None


@dataclass
class FastMangoCapability(AbstractCapability[Any]):
    """Records every model request and tool call, enforces budgets and caches responses.

    Attributes:
        settings: Project settings (default: the running app's).
        agent_name: Recorded when the agent has no name.
        cache_ttl: Seconds a model response is reused (None: ``settings.ai_cache_ttl``; 0: never).
        shared: Cached responses are shared between users.
        registry: The tool registry whose tools' ``cache_ttl`` apply.
    """

    settings: Any = None
    agent_name: str | None = None
    cache_ttl: float | None = None
    shared: bool = False
    registry: Any = None
    tool_calls: int = 0

    def __post_init__(self) -> None:
        if self.id is None:
            self.id = "fastmango"

    async def for_run(self, ctx: RunContext[Any]) -> AbstractCapability[Any]:
        return dataclasses.replace(self, tool_calls=0)  # a counter of this run's tool calls

    # --- what a run is about -------------------------------------------------------------------------------

    def _settings(self) -> Any:
        if self.settings is not None:
            return self.settings
        from fastmango.ai.agents import state

        if state.settings is None:
            from fastmango.core.settings import Settings

            state.settings = Settings()
        return state.settings

    def _agent(self, ctx: RunContext[Any]) -> str | None:
        name = getattr(ctx.agent, "name", None)
        return name or self.agent_name

    def _user(self, ctx: RunContext[Any]) -> Any:
        return ctx.deps.user if isinstance(ctx.deps, AgentDeps) else None

    def _user_id(self, ctx: RunContext[Any]) -> int | None:
        user = self._user(ctx)
        return getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None

    def _record(self, ctx: RunContext[Any], **values: Any) -> UsageRecord:
        deps = ctx.deps if isinstance(ctx.deps, AgentDeps) else None
        request = deps.request if deps is not None else None
        model = ctx.model
        values.setdefault("model", getattr(model, "model_name", None))
        values.setdefault("provider", getattr(model, "system", None))
        record = UsageRecord(
            run_id=ctx.run_id,
            agent=self._agent(ctx),
            user_id=self._user_id(ctx),
            route=str(request.url.path) if request is not None else None,
            task=(deps.extra.get("task") if deps is not None else None),
            **values,
        )
        meter.record(record)
        return record

    # --- runs: one permission scope, budgets before the first model request ------------------------------------

    async def wrap_run(self, ctx: RunContext[Any], *, handler: Any) -> Any:
        # Offering the tools before each model request and checking each call again share one load.
        with permission_scope():
            return await handler()

    async def before_run(self, ctx: RunContext[Any]) -> None:
        settings = self._settings()
        if not settings.ai_budgets:
            return
        user = self._user(ctx)
        checks = [
            ("user", self._user_id(ctx), getattr(user, "username", None)),
            ("agent", self._agent(ctx), self._agent(ctx)),
        ]
        for scope, value, name in checks:
            exceeded = await budgets.check(settings.ai_budgets, scope=scope, value=value, name=name)
            if exceeded is not None:
                raise exceeded.problem()

    # --- model requests: cache, then meter -------------------------------------------------------------------

    def _response_ttl(self) -> float | None:
        return self.cache_ttl if self.cache_ttl is not None else self._settings().ai_cache_ttl

    async def wrap_model_request(self, ctx: RunContext[Any], *, request_context: Any, handler: Any) -> ModelResponse:
        model = request_context.model
        about = {"model": model.model_name, "provider": getattr(model, "system", None)}
        ttl = self._response_ttl()
        key = store = None
        if ttl:
            store = response_cache.cache_store(self._settings())
            principal = None if self.shared else self._user_id(ctx)
            key = response_cache.response_key(request_context, agent=self._agent(ctx), principal=principal)
            cached = await store.get(key)
            loaded = response_cache.load_response(cached) if cached is not None else None
            if loaded is not None:
                response, cost = loaded
                self._record(ctx, cache_hit=True, cost_saved=cost, **about)
                # No provider request was made: the run's usage must not count the cached tokens again.
                uncounted: ModelResponse = dataclasses.replace(response, usage=RequestUsage())
                return uncounted
        started = time.perf_counter()
        try:
            response = await handler(request_context)
        except Exception as exc:
            latency = (time.perf_counter() - started) * 1000
            self._record(ctx, requests=1, latency_ms=latency, status="error", error_type=type(exc).__name__, **about)
            raise
        latency = (time.perf_counter() - started) * 1000
        usage = response.usage
        cost = response_cost(response)
        self._record(
            ctx,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            requests=1,
            cost=cost,
            latency_ms=latency,
            **(about | {"model": response.model_name or model.model_name}),
        )
        if key is not None and store is not None and ttl and response.finish_reason != "error":
            await store.set(key, response_cache.dump_response(response, cost), ttl)
        answered: ModelResponse = response
        return answered

    # --- tool calls: limit, budgets, cache, meter --------------------------------------------------------------

    async def wrap_tool_execute(
        self, ctx: RunContext[Any], *, call: Any, tool_def: Any, args: Any, handler: Any
    ) -> Any:
        name = tool_def.name
        settings = self._settings()
        limit = settings.ai_tool_calls_limit
        if limit is not None and self.tool_calls >= limit:
            self._record(ctx, kind="tool", tool=name, status="refused", error_type="ToolCallLimit")
            raise ToolFailed(f"The tool call limit of this run ({limit}) is reached; answer with what you have.")
        self.tool_calls += 1
        if settings.ai_budgets:
            exceeded = await budgets.check(settings.ai_budgets, scope="tool", value=name, name=name)
            if exceeded is not None:
                self._record(ctx, kind="tool", tool=name, status="refused", error_type="BudgetExceeded")
                raise ToolFailed(f"{exceeded.problem().detail} Do not call {name!r} again.")
        key = store = None
        ttl = self._tool_ttl(name)
        if ttl:
            from pydantic_core import to_jsonable_python

            store = response_cache.cache_store(settings)
            key = response_cache.tool_key(name, to_jsonable_python(args, fallback=repr), self._user_id(ctx))
            cached = await store.get(key)
            if cached is not None:
                import json

                self._record(ctx, kind="tool", tool=name, cache_hit=True)
                return json.loads(cached)
        started = time.perf_counter()
        try:
            result = await handler(args)
        except (ApprovalRequired, CallDeferred):
            raise
        except Exception as exc:
            status = "retry" if isinstance(exc, ModelRetry) else "error"
            latency = (time.perf_counter() - started) * 1000
            self._record(ctx, kind="tool", tool=name, latency_ms=latency, status=status, error_type=type(exc).__name__)
            raise
        self._record(ctx, kind="tool", tool=name, latency_ms=(time.perf_counter() - started) * 1000)
        if key is not None and store is not None and ttl:
            from pydantic_core import to_json

            await store.set(key, to_json(result, fallback=str).decode(), ttl)
        return result

    def _tool_ttl(self, name: str) -> float | None:
        from fastmango.ai.registry import registry as default_registry

        tools = self.registry if self.registry is not None else default_registry
        return tools.get(name).cache_ttl if name in tools else None
