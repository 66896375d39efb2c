"""Admin actions as AI tools: ``<model>_<action>(pks)``, under the action's permission, approved by a human."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, create_model

from fastmango.admin.actions import MAX_ACTION_ROWS, AdminAction, run_action
from fastmango.ai.context import ToolContext
from fastmango.ai.registry import ToolSpec, registry, tool_schema
from fastmango.api.bounds import integer_bounds
from fastmango.api.caller import Caller
from fastmango.api.filters import field_type
from fastmango.api.resource import ModelResource


def action_tool(resource: ModelResource[Any], admin_action: AdminAction) -> ToolSpec:
    """Register ``admin_action`` of ``resource`` as the tool ``<resource name>_<action name>``.

    The tool is offered only to users holding the action's permission, runs as the calling user on the ``ai``
    surface (so its history entries say which tool acted on whose behalf) and waits for approval.
    """
    return registry.add(action_tool_spec(resource, admin_action), replace=True)


def action_tool_spec(resource: ModelResource[Any], admin_action: AdminAction) -> ToolSpec:
    """The tool :func:`action_tool` registers, not registered (the admin's assistant has a registry of its own)."""
    name = f"{resource.name}_{admin_action.name}"
    pk_name = resource.info.pk_name
    pk_type: Any = int if integer_bounds(resource.model, pk_name) is not None else field_type(resource.model, pk_name)
    arguments = create_model(
        f"{name}_arguments",
        __config__=ConfigDict(extra="forbid"),
        pks=(
            list[pk_type],
            Field(min_length=1, max_length=MAX_ACTION_ROWS, description=f"Primary keys of {resource.table} rows."),
        ),
    )

    async def call(context: ToolContext, args: dict[str, Any]) -> Any:
        pks = arguments.model_validate(args).pks  # type: ignore[attr-defined]
        caller = Caller(user=context.user, request=context.request, surface="ai", via=name)
        return await run_action(resource, admin_action, caller, pks)

    return ToolSpec(
        name=name,
        description=admin_action.description or f"{admin_action.label} ({resource.table} rows).",
        parameters=tool_schema(arguments),
        call=call,
        permissions=admin_action.required(resource),
        kind="model",
        requires_approval=True,
        allow_anonymous=False,
        metadata={"admin_action": admin_action.name, "resource": resource.name, "action": "action"},
    )
