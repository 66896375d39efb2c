"""AI commands: ``fastmango ai tools``, ``ai run AGENT PROMPT``, ``ai chat AGENT`` and ``ai mcp``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer

from fastmango.cli.main import app, fail

ai = typer.Typer(help="AI tools and agents.", no_args_is_help=True)
app.add_typer(ai, name="ai")


def _load() -> Any:
    """Load the project (its tools and agents register on import) and return its app."""
    import fastmango
    from fastmango.core.project import find_project, import_project_module

    loaded = fastmango.setup()
    package = find_project().package
    for module in ("tools", "agents"):
        import_project_module(package, module)
    return loaded


async def _user(username: str | None) -> Any:
    if username is None:
        return None
    from fastmango.auth import User

    user = await User.objects.filter(username=username).first()
    if user is None:
        raise fail(f"no user named {username!r}")
    return user


@ai.command("tools")
def tools(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the registered tools with their permissions, cache policy and argument schema."""
    from fastmango.ai import registry

    _load()
    rows = [
        {
            "name": spec.name,
            "kind": spec.kind,
            "permissions": list(spec.permissions),
            "cache_ttl": spec.cache_ttl,
            "requires_approval": spec.requires_approval,
            "description": spec.description,
            "parameters": spec.parameters,
        }
        for spec in registry
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("No tools registered.")
        return
    header = f"{'name':<28} {'kind':<9} {'permissions':<28} {'cache':<7} {'approval':<8} arguments"
    typer.echo(header)
    for row in rows:
        arguments = ", ".join(row["parameters"].get("properties", {}))
        typer.echo(
            f"{row['name']:<28} {row['kind']:<9} {','.join(row['permissions']) or '-':<28} "
            f"{row['cache_ttl'] or '-'!s:<7} {'yes' if row['requires_approval'] else 'no':<8} {arguments}"
        )


@ai.command("run")
def run(
    agent_name: str = typer.Argument(..., metavar="AGENT"),
    prompt: str = typer.Argument(...),
    user: str | None = typer.Option(None, "--user", help="Run with this user's permissions (default: anonymous)."),
) -> None:
    """Run an agent once and print its answer."""
    from fastmango.ai import get_agent
    from fastmango.db import disconnect

    _load()

    async def main() -> Any:
        from fastmango.ai import flush_usage

        try:
            return await get_agent(agent_name).run(prompt, user=await _user(user))
        finally:
            await flush_usage()
            await disconnect()

    result = asyncio.run(main())
    typer.echo(result.output if isinstance(result.output, str) else json.dumps(result.output, default=str))


@ai.command("chat")
def chat(
    agent_name: str = typer.Argument(..., metavar="AGENT"),
    user: str | None = typer.Option(None, "--user", help="Chat with this user's permissions."),
) -> None:
    """A terminal chat with an agent (empty line or Ctrl-D to quit)."""
    from fastmango.ai import get_agent
    from fastmango.db import disconnect

    _load()
    spec = get_agent(agent_name)

    async def main() -> None:
        caller = await _user(user)
        history: list[Any] = []
        try:
            while True:
                try:
                    line = await asyncio.to_thread(input, "you> ")
                except EOFError:
                    break
                if not line.strip():
                    break
                result = await spec.run(line, user=caller, message_history=history)
                history = result.all_messages()
                typer.echo(f"{agent_name}> {result.output}")
        finally:
            from fastmango.ai import flush_usage

            await flush_usage()
            await disconnect()

    asyncio.run(main())


@ai.command("mcp")
def mcp(user: str | None = typer.Option(None, "--user", help="Serve with this user's permissions.")) -> None:
    """Serve the tool registry over MCP on stdin/stdout (for desktop MCP clients)."""
    from fastmango.ai.mcp import serve_stdio
    from fastmango.db import disconnect

    loaded = _load()

    async def main() -> None:
        try:
            await serve_stdio(loaded, await _user(user))
        finally:
            await disconnect()

    asyncio.run(main())
