"""What a tool knows about its call: the user, the request, and Pydantic AI's run context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import Request

    from fastmango.auth.models import User


@dataclass
class AgentDeps:
    """The ``deps`` of every fastmango agent run: who asked, and through which request.

    Attributes:
        user: The calling user; None when anonymous.
        request: The HTTP request the run serves, when there is one.
        app: The FastMango app (route tools call its endpoints in process).
        extra: Anything else a project wants to pass to its tools.
    """

    user: User | None = None
    request: Request | None = None
    app: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolContext:
    """The first parameter of a tool that asks for it (``async def t(ctx: ToolContext, ...)``).

    Attributes:
        user: The calling user; None when anonymous.
        request: The HTTP request, when the run serves one.
        run: Pydantic AI's ``RunContext`` (usage, messages, retry count...).
    """

    user: User | None
    request: Request | None
    run: Any

    @classmethod
    def from_run(cls, run: Any) -> ToolContext:
        deps = run.deps if isinstance(run.deps, AgentDeps) else AgentDeps()
        return cls(user=deps.user, request=deps.request, run=run)
