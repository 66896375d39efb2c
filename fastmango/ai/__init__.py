"""AI: one registry of typed tools (functions, queries, models, endpoints) that run with the caller's
permissions, agents over it, and the FastAPI dependency that binds them to a request.

    import fastmango
    from fastmango.ai import ToolContext, registry, expose_model, expose_routes, agent, use_agent

Pydantic AI is imported only when an agent runs.
"""

from fastmango.ai.agents import AgentSpec, BoundAgent, agent, agents, get_agent, use_agent
from fastmango.ai.context import AgentDeps, ToolContext
from fastmango.ai.functions import tool
from fastmango.ai.metering import UsageRecord, capabilities, flush_usage
from fastmango.ai.model_tools import expose_model
from fastmango.ai.registry import Registry, ToolError, ToolSpec, registry
from fastmango.ai.route_tools import expose_routes

__all__ = [
    "AgentDeps",
    "AgentSpec",
    "BoundAgent",
    "Registry",
    "ToolContext",
    "ToolError",
    "ToolSpec",
    "UsageRecord",
    "agent",
    "agents",
    "capabilities",
    "expose_model",
    "expose_routes",
    "flush_usage",
    "get_agent",
    "registry",
    "tool",
    "use_agent",
]
