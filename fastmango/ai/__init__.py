"""AI: tool registry, model/query/route tools, agents, metering, response cache, MCP (issues 6, 7).

Nothing public here yet; the layer exists so that imports keep the direction ARCHITECTURE.md gives.
"""

__all__: list[str] = []
