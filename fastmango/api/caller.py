"""``Caller``: who asks a :class:`~fastmango.api.resource.ModelResource` for rows, and through which surface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from fastapi import Request

    from fastmango.auth.models import User

#: Where a call comes from; the history records it with every write.
Surface = Literal["api", "admin", "ai", "task"]
SURFACES: tuple[Surface, ...] = ("api", "admin", "ai", "task")


@dataclass(frozen=True)
class Caller:
    """Who asks: the user (None when anonymous), the HTTP request when the call serves one, and the surface.

    Attributes:
        user: The user whose rights apply; None when anonymous.
        request: The HTTP request the call serves, if any (AI tools and tasks may have none).
        surface: ``"api"`` (the CRUD routers and hand-written code: the default), ``"admin"``, ``"ai"`` (a tool
            an agent called on behalf of ``user``) or ``"task"``.
        via: What acted on that surface, for the history: the tool, admin action or task name.
    """

    user: User | None = None
    request: Request | None = None
    surface: Surface = "api"
    via: str | None = None
