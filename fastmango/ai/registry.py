"""The tool registry: every ``@fastmango.tool``, model tool and route tool, with its permissions.

Registering imports nothing heavy; a Pydantic AI toolset is built only when an agent runs.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from fastmango.auth.checks import check, is_authenticated
from fastmango.auth.permission_scope import permission_scope
from fastmango.core.errors import FastMangoError

ToolKind = Literal["function", "query", "model", "route"]


class ToolError(FastMangoError):
    """A tool is declared wrongly (a duplicate name, an unknown permission pattern...)."""


@dataclass
class ToolSpec:
    """A registered tool.

    Attributes:
        name: Unique; what the model calls.
        description: What the model is told (a function's docstring by default).
        parameters: JSON schema of the arguments.
        call: ``async call(ctx: ToolContext, args: dict) -> Any``: validates the arguments and runs the tool.
        permissions: Permissions the user needs (all of them) for the tool to be offered or run.
        kind: function, query, model or route.
        cache_ttl: Seconds a result may be reused for the same user and arguments (None: never).
        requires_approval: Calls wait for a human approval (Pydantic AI deferred tools).
        allow_anonymous: Whether anonymous callers may use it (only when it needs no permission).
    """

    name: str
    description: str
    parameters: dict[str, Any]
    call: Callable[[Any, dict[str, Any]], Awaitable[Any]]
    permissions: tuple[str, ...] = ()
    kind: ToolKind = "function"
    cache_ttl: float | None = None
    requires_approval: bool = False
    allow_anonymous: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)

    async def allowed_for(self, user: Any) -> bool:
        """Whether ``user`` (None: anonymous) may see and call this tool (:func:`fastmango.auth.check`)."""
        if not is_authenticated(user):
            return self.allow_anonymous and not self.permissions
        if not user.is_active:
            return False
        return await check(user, *self.permissions)


class Registry:
    """Tools by name. ``registry.match("book_*")`` filters by glob; ``registry.toolset(names, user)`` builds the
    Pydantic AI toolset a user's agent run sees."""

    def __init__(self) -> None:
        self._tools: dict[str, ToolSpec] = {}

    def add(self, spec: ToolSpec, *, replace: bool = False) -> ToolSpec:
        """Register ``spec``. A second tool of the same name is an error unless ``replace``."""
        if spec.name in self._tools and not replace and self._tools[spec.name].call is not spec.call:
            raise ToolError(f"a tool named {spec.name!r} is already registered; give one of them another name=")
        self._tools[spec.name] = spec
        return spec

    def remove(self, name: str) -> None:
        """Unregister a tool (tests)."""
        self._tools.pop(name, None)

    def get(self, name: str) -> ToolSpec:
        try:
            return self._tools[name]
        except KeyError:
            raise ToolError(f"no tool named {name!r}; registered: {', '.join(sorted(self._tools)) or 'none'}") from None

    def __iter__(self) -> Any:
        return iter(sorted(self._tools.values(), key=lambda spec: spec.name))

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def match(self, patterns: Iterable[str] | None = None) -> list[ToolSpec]:
        """The tools whose names match any of the glob ``patterns`` (all tools when None)."""
        if patterns is None:
            return list(self)
        patterns = list(patterns)
        return [spec for spec in self if any(fnmatch.fnmatchcase(spec.name, p) for p in patterns)]

    async def allowed(self, user: Any, patterns: Iterable[str] | None = None) -> list[ToolSpec]:
        """The matching tools ``user`` may use (one permission query for all of them)."""
        with permission_scope():
            return [spec for spec in self.match(patterns) if await spec.allowed_for(user)]

    def toolset(self, patterns: Iterable[str] | None = None) -> Any:
        """A Pydantic AI toolset of the matching tools that offers each run only what its user may use."""
        from fastmango.ai.toolset import RegistryToolset

        return RegistryToolset(self, None if patterns is None else list(patterns))


registry = Registry()
"""The process-wide registry that ``@fastmango.tool``, ``expose_model`` and ``expose_routes`` fill."""


def tool_schema(model: type[Any]) -> dict[str, Any]:
    """The JSON schema of a tool's arguments model, without Pydantic's generated titles (noise to a model)."""
    from pydantic.json_schema import GenerateJsonSchema

    class WithoutTitles(GenerateJsonSchema):
        def field_title_should_be_set(self, schema: Any) -> bool:
            return False

    schema: dict[str, Any] = model.model_json_schema(schema_generator=WithoutTitles)
    schema.pop("title", None)
    return schema
