"""MCP: the registry served to MCP clients, over streamable HTTP at ``/mcp`` or over stdio.

Over HTTP each request is authenticated with the app's own Bearer tokens, and each client sees only the
tools its user may use; over stdio the server acts for the user named on the command line. Tools that need
a human's approval are not served (MCP has no approval step). Imports the ``mcp`` package only when used.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json

from fastmango.ai.context import ToolContext
from fastmango.ai.registry import Registry, registry
from fastmango.auth.errors import NotAuthenticated


def build_server(app: Any, *, user: Any = None, tools: Registry = registry) -> Any:
    """An MCP ``Server`` listing and calling ``tools`` as the caller (or as ``user`` when given)."""
    import mcp_types as types
    from mcp.server.lowlevel.server import Server
    from pydantic_ai.exceptions import ApprovalRequired, ModelRetry, ToolFailed

    from fastmango.ai.toolset import run_tool

    async def caller(ctx: Any) -> Any:
        if user is not None:
            return user
        request = getattr(ctx, "request", None)
        header = request.headers.get("authorization", "") if request is not None else ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            return (await app.state.auth.authenticate(token.strip())).user
        except NotAuthenticated:
            return None

    async def list_tools(ctx: Any, params: Any) -> Any:
        specs = [spec for spec in await tools.allowed(await caller(ctx)) if not spec.requires_approval]
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
            result = await run_tool(
                spec, ToolContext(user=await caller(ctx), request=None, run=None), params.arguments or {}
            )
        except (ModelRetry, ToolFailed) as exc:
            return failure(str(getattr(exc, "message", exc)))
        except ApprovalRequired:
            return failure(f"The tool {spec.name!r} needs approval.")
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
    app.mount(path, asgi)
    return server


async def serve_stdio(app: Any, user: Any) -> None:
    """Serve the registry over stdio as ``user`` (None: anonymous)."""
    from mcp.server.stdio import stdio_server

    server = build_server(app, user=user)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())
