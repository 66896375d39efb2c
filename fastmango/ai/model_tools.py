"""``expose_model(resource)``: tools ``book_list`` and ``book_get`` (and, when asked, create/update/delete).

They go through the same :class:`~fastmango.api.resource.ModelResource` as ``CRUDRouter(resource)``: the rows the
caller may see, the permission decision, the field whitelist and the schemas; a tool call is a call of the
resource with the calling user (and the request, when the agent run serves one). Passing a model builds a default
resource. Writes are not exposed unless asked for, and then need a human's approval unless
``requires_approval=False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from fastmango.ai.context import ToolContext
from fastmango.ai.registry import ToolSpec, registry, tool_schema
from fastmango.api.bounds import integer_bounds
from fastmango.api.filters import field_type
from fastmango.api.resource import Caller, ModelResource, check_actions, resource_of

ModelAction = Literal["list", "get", "create", "update", "delete"]
MODEL_ACTIONS: tuple[ModelAction, ...] = ("list", "get", "create", "update", "delete")
#: The ``fastmango check`` id of model tools' ``actions`` naming no action.
UNKNOWN_ACTION = "fastmango.E305"


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return tool_schema(model)


def expose_model(
    model: type[Any] | ModelResource[Any],
    *,
    actions: Sequence[ModelAction] = ("list", "get"),
    filter_fields: Sequence[str] = (),
    search_fields: Sequence[str] = (),
    ordering_fields: Sequence[str] = (),
    select_related: Sequence[str] = (),
    permissions: bool | None = None,
    requires_approval: bool = True,
    max_rows: int = 50,
    prefix: str | None = None,
) -> list[ToolSpec]:
    """Register tools for a resource (or a model): ``<name>_list``, ``<name>_get``, and any of create/update/delete.

    Args:
        model: A ModelResource, or a table model (then the options below build its resource; with a resource they
            belong to it and are refused here).
        actions: Which tools; writes (create, update, delete) only when listed.
        filter_fields / search_fields / ordering_fields / select_related: As for ``CRUDRouter``.
        permissions: For a model: require ``<table>.view/add/change/delete`` (True, the default) or nothing.
        requires_approval: Writes wait for a human's approval (Pydantic AI deferred tools).
        max_rows: The most rows ``<name>_list`` returns.
        prefix: Tool name prefix (the resource's name by default).
    """
    resource = resource_of(
        model,
        filter_fields=filter_fields,
        search_fields=search_fields,
        ordering_fields=ordering_fields,
        select_related=select_related,
        permissions=permissions,
    )
    specs = model_tool_specs(
        resource, actions=actions, requires_approval=requires_approval, max_rows=max_rows, prefix=prefix
    )
    return [registry.add(spec, replace=True) for spec in specs]


def model_tool_specs(
    resource: ModelResource[Any],
    *,
    actions: Sequence[ModelAction] = ("list", "get"),
    requires_approval: bool = True,
    max_rows: int = 50,
    prefix: str | None = None,
) -> list[ToolSpec]:
    """The tools :func:`expose_model` registers, not registered: for a registry of one's own (the admin's
    assistant offers its site's resources this way). Each spec's ``metadata`` names the resource and the action."""
    name = prefix or resource.name
    specs = []
    declaration = f"actions of the model tools of {resource.name}"
    for action in check_actions(actions, declaration, UNKNOWN_ACTION, MODEL_ACTIONS):
        builder = {"list": _list_tool, "get": _get_tool, "create": _create_tool, "update": _update_tool}.get(
            action, _delete_tool
        )
        spec = builder(resource, f"{name}_{action}", max_rows)
        if resource.guarded(action):
            # Offered only to users who hold the permissions; the resource decides again when the tool runs (a
            # callable policy names none: its tool is offered, and refused when called).
            spec.permissions = resource.required(action)
            spec.allow_anonymous = not spec.permissions
        spec.kind = "model"
        spec.requires_approval = requires_approval and action in ("create", "update", "delete")
        spec.metadata = {"resource": resource.name, "action": action}
        specs.append(spec)
    return specs


def _caller(context: ToolContext, tool: str) -> Caller:
    """The resource's caller for a tool call: the run's user, on the ``ai`` surface, via the tool (the history
    records AI writes as the agent's, on behalf of that user)."""
    return Caller(user=context.user, request=context.request, surface="ai", via=tool)


def _list_tool(resource: ModelResource[Any], name: str, max_rows: int) -> ToolSpec:
    filters = resource.filters
    allowed = ", ".join(sorted(filters.filter_fields)) or "none"
    fields: dict[str, Any] = {
        "filters": (
            dict[str, str | int | float | bool | None],
            Field(
                default_factory=dict,
                description=f"Field lookups, e.g. {{'title__icontains': 'dune'}}; fields: {allowed}; lookups: exact, "
                "iexact, contains, icontains, startswith, in (comma-separated), gt, gte, lt, lte, range, isnull, "
                "year, month, day.",
            ),
        ),
        "limit": (int, Field(min(20, max_rows), ge=1, le=max_rows, description="Most rows to return.")),
        "offset": (int, Field(0, ge=0, description="Rows to skip.")),
    }
    if filters.search_fields:
        fields["search"] = (
            str | None,
            Field(None, description=f"Text searched in {', '.join(filters.search_fields)}."),
        )
    if filters.ordering_fields:
        options = [*filters.ordering_fields, *(f"-{f}" for f in filters.ordering_fields)]
        sort_key: Any = Literal[tuple(options)]
        fields["ordering"] = (list[sort_key] | None, Field(None, description="Sort keys, - for descending."))
    arguments = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)

    async def call(context: ToolContext, args: dict[str, Any]) -> Any:
        values: Any = arguments.model_validate(args)
        params = [(key, _text(value)) for key, value in values.filters.items()]
        if getattr(values, "search", None):
            params.append(("search", values.search))
        if getattr(values, "ordering", None):
            params.append(("ordering", ",".join(values.ordering)))
        return await resource.list(_caller(context, name), params, limit=values.limit, offset=values.offset)

    return ToolSpec(
        name=name,
        description=f"List {resource.table} rows, filtered and ordered; returns items and the total count.",
        parameters=_schema(arguments),
        call=call,
    )


def _pk_model(resource: ModelResource[Any], name: str, extra: dict[str, Any] | None = None) -> type[BaseModel]:
    pk_name = resource.info.pk_name
    bounds = integer_bounds(resource.model, pk_name)
    pk_type: Any = int if bounds is not None else field_type(resource.model, pk_name)
    return create_model(
        f"{name}_arguments",
        __config__=ConfigDict(extra="forbid"),
        pk=(pk_type, Field(description=f"The primary key of the {resource.table} row.")),
        **(extra or {}),
    )


def _get_tool(resource: ModelResource[Any], name: str, max_rows: int) -> ToolSpec:
    arguments = _pk_model(resource, name)

    async def call(context: ToolContext, args: dict[str, Any]) -> Any:
        return await resource.get(_caller(context, name), arguments.model_validate(args).pk)  # type: ignore[attr-defined]

    return ToolSpec(
        name=name, description=f"Get one {resource.table} row by primary key.", parameters=_schema(arguments), call=call
    )


def _create_tool(resource: ModelResource[Any], name: str, max_rows: int) -> ToolSpec:
    arguments = resource.create_schema

    async def call(context: ToolContext, args: dict[str, Any]) -> Any:
        return await resource.create(_caller(context, name), arguments.model_validate(args).model_dump())

    return ToolSpec(name=name, description=f"Create a {resource.table} row.", parameters=_schema(arguments), call=call)


def _update_tool(resource: ModelResource[Any], name: str, max_rows: int) -> ToolSpec:
    changes = (resource.update_schema, Field(description="The fields to change."))
    arguments = _pk_model(resource, name, {"changes": changes})

    async def call(context: ToolContext, args: dict[str, Any]) -> Any:
        values: Any = arguments.model_validate(args)
        return await resource.update(_caller(context, name), values.pk, values.changes.model_dump(exclude_unset=True))

    return ToolSpec(
        name=name, description=f"Change fields of a {resource.table} row.", parameters=_schema(arguments), call=call
    )


def _delete_tool(resource: ModelResource[Any], name: str, max_rows: int) -> ToolSpec:
    arguments = _pk_model(resource, name)

    async def call(context: ToolContext, args: dict[str, Any]) -> Any:
        pk = arguments.model_validate(args).pk  # type: ignore[attr-defined]
        await resource.delete(_caller(context, name), pk)
        return {"deleted": pk}

    return ToolSpec(name=name, description=f"Delete a {resource.table} row.", parameters=_schema(arguments), call=call)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
