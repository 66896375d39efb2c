"""``expose_model(Book)``: tools ``book_list`` and ``book_get`` (and, when asked, create/update/delete).

They use the same QuerySet, field whitelist, schemas and ``<table>.<action>`` permissions as
``CRUDRouter``. Writes are not exposed unless asked for, and then need a human's approval unless
``requires_approval=False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from fastmango.ai.context import ToolContext
from fastmango.ai.registry import ToolSpec, registry, tool_schema
from fastmango.api.crud import PERMISSION_OF, CRUDRouter
from fastmango.core.errors import ProblemError

ModelAction = Literal["list", "get", "create", "update", "delete"]


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return tool_schema(model)


def expose_model(
    model: type[Any],
    *,
    actions: Sequence[ModelAction] = ("list", "get"),
    filter_fields: Sequence[str] = (),
    search_fields: Sequence[str] = (),
    ordering_fields: Sequence[str] = (),
    select_related: Sequence[str] = (),
    permissions: bool = True,
    requires_approval: bool = True,
    max_rows: int = 50,
    prefix: str | None = None,
) -> list[ToolSpec]:
    """Register tools for ``model``: ``<table>_list``, ``<table>_get``, and any of create/update/delete.

    Args:
        model: A table model.
        actions: Which tools; writes (create, update, delete) only when listed.
        filter_fields / search_fields / ordering_fields / select_related: As for ``CRUDRouter``.
        permissions: Require ``<table>.view/add/change/delete`` (default) or nothing.
        requires_approval: Writes wait for a human's approval (Pydantic AI deferred tools).
        max_rows: The most rows ``<table>_list`` returns.
        prefix: Tool name prefix (the table name by default).
    """
    crud = CRUDRouter(
        model,
        prefix="",
        filter_fields=filter_fields,
        search_fields=search_fields,
        ordering_fields=ordering_fields,
        select_related=select_related,
        permissions=False,
        actions=(),
    )
    table = crud.table
    name = prefix or table
    specs = []
    for action in actions:
        builder = {"list": _list_tool, "get": _get_tool, "create": _create_tool, "update": _update_tool}.get(
            action, _delete_tool
        )
        spec = builder(crud, f"{name}_{action}", max_rows)
        if permissions:
            spec.permissions = (f"{table}.{PERMISSION_OF[action]}",)
            spec.allow_anonymous = False
        spec.kind = "model"
        spec.requires_approval = requires_approval and action in ("create", "update", "delete")
        specs.append(registry.add(spec, replace=True))
    return specs


def _list_tool(crud: CRUDRouter, name: str, max_rows: int) -> ToolSpec:
    filters = crud.filters
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
        sort_key: Any = Literal[tuple(options)]  # type: ignore[valid-type]
        fields["ordering"] = (list[sort_key] | None, Field(None, description="Sort keys, - for descending."))
    arguments = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)  # type: ignore[call-overload]

    async def call(context: ToolContext, args: dict[str, Any]) -> Any:
        values: Any = arguments.model_validate(args)
        params = [(key, _text(value)) for key, value in values.filters.items()]
        if getattr(values, "search", None):
            params.append(("search", values.search))
        if getattr(values, "ordering", None):
            params.append(("ordering", ",".join(values.ordering)))
        queryset = filters.apply(crud.queryset(None), params)  # type: ignore[arg-type]
        total = await queryset.count()
        rows = await crud.read_rows(queryset[values.offset : values.offset + values.limit])
        return {"items": rows, "total": total}

    return ToolSpec(
        name=name,
        description=f"List {crud.table} rows, filtered and ordered; returns items and the total count.",
        parameters=_schema(arguments),
        call=call,
    )


def _pk_model(crud: CRUDRouter, name: str, extra: dict[str, Any] | None = None) -> type[BaseModel]:
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{name}_arguments",
        __config__=ConfigDict(extra="forbid"),
        pk=(crud._pk_type().__origin__, Field(description=f"The primary key of the {crud.table} row.")),
        **(extra or {}),
    )


def _get_tool(crud: CRUDRouter, name: str, max_rows: int) -> ToolSpec:
    arguments = _pk_model(crud, name)

    async def call(context: ToolContext, args: dict[str, Any]) -> Any:
        return await crud.read_one(None, arguments.model_validate(args).pk)  # type: ignore[arg-type, attr-defined]

    return ToolSpec(
        name=name, description=f"Get one {crud.table} row by primary key.", parameters=_schema(arguments), call=call
    )


def _create_tool(crud: CRUDRouter, name: str, max_rows: int) -> ToolSpec:
    arguments = crud.create_schema

    async def call(context: ToolContext, args: dict[str, Any]) -> Any:
        obj = await crud.model.objects.create(**arguments.model_validate(args).model_dump())
        return await crud.read_one(None, obj.pk)  # type: ignore[arg-type]

    return ToolSpec(name=name, description=f"Create a {crud.table} row.", parameters=_schema(arguments), call=call)


def _update_tool(crud: CRUDRouter, name: str, max_rows: int) -> ToolSpec:
    arguments = _pk_model(crud, name, {"changes": (crud.update_schema, Field(description="The fields to change."))})

    async def call(context: ToolContext, args: dict[str, Any]) -> Any:
        values = arguments.model_validate(args)
        changes = values.changes.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
        queryset = crud.queryset(None).filter(pk=values.pk)  # type: ignore[arg-type, attr-defined]
        if not (await queryset.update(**changes) if changes else await queryset.exists()):
            raise ProblemError(404, f"{crud.model.__name__} {values.pk} does not exist.", title="Not found")  # type: ignore[attr-defined]
        return await crud.read_one(None, values.pk)  # type: ignore[arg-type, attr-defined]

    return ToolSpec(
        name=name, description=f"Change fields of a {crud.table} row.", parameters=_schema(arguments), call=call
    )


def _delete_tool(crud: CRUDRouter, name: str, max_rows: int) -> ToolSpec:
    arguments = _pk_model(crud, name)

    async def call(context: ToolContext, args: dict[str, Any]) -> Any:
        pk = arguments.model_validate(args).pk  # type: ignore[attr-defined]
        if not await crud.queryset(None).filter(pk=pk).delete():  # type: ignore[arg-type]
            raise ProblemError(404, f"{crud.model.__name__} {pk} does not exist.", title="Not found")
        return {"deleted": pk}

    return ToolSpec(name=name, description=f"Delete a {crud.table} row.", parameters=_schema(arguments), call=call)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
