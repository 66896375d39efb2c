"""``@fastmango.tool``: a function becomes a typed tool; one that returns a QuerySet becomes a query tool.

The docstring is the description (its ``Args:`` section describes the parameters) and the type hints are
the argument schema. A first parameter typed ``ToolContext`` receives the caller.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Sequence
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, Field, create_model

from fastmango.ai.context import ToolContext
from fastmango.ai.registry import ToolError, ToolSpec, registry, tool_schema
from fastmango.db.query import QuerySet

DEFAULT_MAX_ROWS = 100


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The description and ``{param: description}`` of a Google-style docstring."""
    if not doc:
        return "", {}
    text = inspect.cleandoc(doc)
    parts = re.split(r"^(Args|Arguments|Parameters|Returns|Raises|Yields|Examples?):\s*$", text, flags=re.M)
    description = parts[0].strip()
    params: dict[str, str] = {}
    for heading, body in zip(parts[1::2], parts[2::2], strict=False):
        if heading not in ("Args", "Arguments", "Parameters"):
            continue
        current = None
        for line in body.splitlines():
            match = re.match(r"^\s{0,8}(\*{0,2}\w+)(?:\s*\([^)]*\))?:\s*(.*)$", line)
            if match:
                current = match.group(1).lstrip("*")
                params[current] = match.group(2).strip()
            elif current and line.strip():
                params[current] += " " + line.strip()
    return description, params


def arguments_model(func: Callable[..., Any], name: str) -> tuple[type[BaseModel], bool]:
    """The Pydantic model of ``func``'s arguments, and whether its first parameter takes a ToolContext."""
    hints = typing.get_type_hints(func, include_extras=True)
    _, param_docs = parse_docstring(func.__doc__)
    fields: dict[str, Any] = {}
    takes_ctx = False
    for index, parameter in enumerate(inspect.signature(func).parameters.values()):
        annotation = hints.get(parameter.name, Any)
        if index == 0 and (annotation is ToolContext or parameter.name == "ctx"):
            takes_ctx = True
            continue
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise ToolError(f"tool {name!r}: *args and **kwargs cannot become a tool's arguments")
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (annotation, Field(default, description=param_docs.get(parameter.name)))
    model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    return model, takes_ctx


def returns_queryset(func: Callable[..., Any]) -> bool:
    """Whether ``func`` is annotated to return a QuerySet (a query tool)."""
    try:
        annotation = typing.get_type_hints(func).get("return")
    except Exception:
        return False
    return (typing.get_origin(annotation) or annotation) is QuerySet


async def evaluate(result: Any, max_rows: int) -> Any:
    """Run what a tool returned: a QuerySet is evaluated with a row cap and serialized with its model's read
    schema; an awaitable is awaited; a Pydantic model is dumped to JSON-ready data."""
    if inspect.isawaitable(result) and not isinstance(result, QuerySet):
        result = await result
    if isinstance(result, QuerySet):
        from fastmango.api.schemas import schema_for

        read = schema_for(result.model)
        rows = await result[:max_rows]
        return [read.model_validate(row).model_dump(mode="json") for row in rows]
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    if isinstance(result, list) and result and isinstance(result[0], BaseModel):
        return [item.model_dump(mode="json") for item in result]
    return result


def function_tool(
    func: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    permissions: Sequence[str] = (),
    cache_ttl: float | None = None,
    requires_approval: bool = False,
    allow_anonymous: bool = True,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> ToolSpec:
    """The :class:`ToolSpec` of a Python function (see :func:`tool`)."""
    tool_name = name or func.__name__
    model, takes_ctx = arguments_model(func, tool_name)
    summary, _ = parse_docstring(func.__doc__)
    is_async = inspect.iscoroutinefunction(func)
    query = returns_queryset(func)

    async def call(context: ToolContext, args: dict[str, Any]) -> Any:
        values = dict(model.model_validate(args))
        positional = (context,) if takes_ctx else ()
        if is_async or query:
            result = func(*positional, **values)
        else:
            import anyio.to_thread

            result = await anyio.to_thread.run_sync(lambda: func(*positional, **values))
        return await evaluate(result, max_rows)

    schema = tool_schema(model)
    return ToolSpec(
        name=tool_name,
        description=description or summary or tool_name.replace("_", " "),
        parameters=schema,
        call=call,
        permissions=tuple(permissions),
        kind="query" if query else "function",
        cache_ttl=cache_ttl,
        requires_approval=requires_approval,
        allow_anonymous=allow_anonymous,
        metadata={"function": f"{func.__module__}.{func.__qualname__}"},
    )


@overload
def tool(func: Callable[..., Any], /) -> Callable[..., Any]: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    permissions: Sequence[str] = (),
    cache_ttl: float | None = None,
    requires_approval: bool = False,
    allow_anonymous: bool = True,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...


def tool(func: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Register a function as an AI tool; use bare (``@fastmango.tool``) or with options.

    Args:
        name: The tool's name (the function's by default).
        description: What the model is told (the docstring by default).
        permissions: Permissions the caller needs, all of them (``["book.view"]``).
        cache_ttl: Seconds a result may be reused for the same user and arguments.
        requires_approval: Calls wait for a human to approve them (Pydantic AI deferred tools).
        allow_anonymous: Offer it to anonymous callers too (when it needs no permission).
        max_rows: Row cap of a query tool (a function returning a QuerySet).

    The function keeps working as a plain function; its :class:`ToolSpec` is ``func.__fastmango_tool__``.
    """

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        spec = registry.add(function_tool(function, **options), replace=True)
        function.__fastmango_tool__ = spec  # type: ignore[attr-defined]
        return function

    return register(func) if func is not None else register
