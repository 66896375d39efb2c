"""MCP: the registry served to MCP clients, over streamable HTTP at ``/mcp`` or over stdio.

Over HTTP each request is authenticated with the app's own Bearer tokens (a bad one is a 401, by
:mod:`fastmango.ai.mcp_guard`, which also caps open requests and ends idle streams), and each client sees only
the tools its user may use; over stdio the server acts for the user named on the command line. Tools that need
a human's approval are not served (MCP has no approval step). A failure says what failed in words, never an
exception's class or message. Imports the ``mcp`` package only when used.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic_core import to_json

from fastmango.ai.context import ToolContext
from fastmango.ai.mcp_guard import MCPGuard, mcp_user
from fastmango.ai.registry import Registry, registry
from fastmango.ai.tool_errors import describe_failure

logger = logging.getLogger("fastmango.ai.mcp")


def build_server(app: Any, *, user: Any = None, tools: Registry = registry) -> Any:
    """An MCP ``Server`` listing and calling ``tools`` as the caller (or as ``user`` when given)."""
    import mcp_types as types
    from mcp.server.lowlevel.server import Server
    from mcp.shared.exceptions import MCPError
    from pydantic_ai.exceptions import ApprovalRequired, ModelRetry, ToolFailed

    from fastmango.ai.toolset import run_tool

    def caller() -> Any:
        # Over HTTP, MCPGuard authenticated the request (and refused bad credentials) before it got here.
        return user if user is not None else mcp_user.get()

    async def list_tools(ctx: Any, params: Any) -> Any:
        try:
            specs = [spec for spec in await tools.allowed(caller()) if not spec.requires_approval]
        except Exception as exc:
            logger.warning("MCP: listing tools failed: %s: %s", type(exc).__name__, exc)
            message = describe_failure("tools/list", exc).message
            raise MCPError(code=types.INTERNAL_ERROR, message=message) from None
        return types.ListToolsResult(
            tools=[types.Tool(name=s.name, description=s.description, input_schema=s.parameters) for s in specs]
        )

    async def call_tool(ctx: Any, params: Any) -> Any:
        def failure(message: str) -> Any:
            return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)

        if params.name not in tools:
            return failure(f"Unknown tool {params.name!r}.")
        spec = tools.get(params.name)
        if spec.requires_approval:
            return failure(f"The tool {spec.name!r} needs a human's approval and is not available over MCP.")
        try:
            result = await run_tool(spec, ToolContext(user=caller(), request=None, run=None), params.arguments or {})
        except (ModelRetry, ToolFailed) as exc:
            return failure(str(getattr(exc, "message", exc)))
        except ApprovalRequired:
            return failure(f"The tool {spec.name!r} needs approval.")
        except Exception as exc:  # run_tool describes the tool's own errors; this is anything else
            logger.exception("MCP: calling %s failed", spec.name)
            return failure(describe_failure(spec.name, exc).message)
        # As Pydantic AI serializes a tool result for a model: datetimes 2025-01-31T09:30:00Z, Decimals as strings.
        text = result if isinstance(result, str) else to_json(result, fallback=str).decode()
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=False)

    return Server("fastmango", on_list_tools=list_tools, on_call_tool=call_tool)


def mount(app: Any, path: str = "/mcp") -> Any:
    """Mount the streamable HTTP MCP endpoint on ``app``; returns the server (its session manager must run
    in the app's lifespan, which the AI plugin does)."""
    from mcp.server.transport_security import TransportSecuritySettings

    server = build_server(app)
    asgi = server.streamable_http_app(
        streamable_http_path="/",
        stateless_http=True,
        json_response=True,
        # Requests are authenticated with Bearer tokens; a browser page cannot obtain one through DNS rebinding.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    settings = app.settings
    guarded = MCPGuard(
        asgi,
        app,
        idle_timeout=settings.ai_mcp_idle_timeout,
        max_per_user=settings.ai_mcp_max_streams_per_user,
        max_anonymous=settings.ai_mcp_max_anonymous_streams,
    )
    app.mount(path, guarded)
    return server


async def serve_stdio(app: Any, user: Any) -> None:
    """Serve the registry over stdio as ``user`` (None: anonymous)."""
    from mcp.server.stdio import stdio_server

    server = build_server(app, user=user)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())
