"""Admin writes: a row with its many-to-many fields and its inline rows, in one transaction, and what a delete
would take with it.

A body is the form's values: fields of the model, many-to-many fields as lists of keys, and each inline as a list
of rows (``{"comment": [{"body": "..."}, {"id": 3, "body": "..."}, {"id": 4, "_delete": true}]}``: a row without a
key is created, one with a key changed, one with ``_delete`` deleted). Every value is checked before anything is
written (all field errors in one 422 problem, each naming its field: ``comment.1.body``); every write goes
through its model's resource (permissions, scoping, history); any error rolls all of them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from fastmango.admin.relations import check_keys, merged_links, visible_links
from fastmango.api.caller import Caller
from fastmango.api.resource import ModelResource
from fastmango.core.errors import ProblemError
from fastmango.db.compiler import model_info
from fastmango.db.session import transaction

if TYPE_CHECKING:
    from fastmango.admin.options import Inline, ModelAdmin

DELETE_KEY = "_delete"


class FieldErrors(ProblemError):
    """422: values the form must correct, each with its field."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        detail = "; ".join(f"{error['field']}: {error['message']}" for error in errors)
        super().__init__(422, detail, title="Validation failed", errors=errors)


def _errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    return [
        {"field": prefix + ".".join(str(part) for part in error.get("loc", ())), "message": str(error.get("msg"))}
        for error in exc.errors()
    ]


def _validate(schema: type[BaseModel], values: Mapping[str, Any], partial: bool, prefix: str = "") -> Any:
    try:
        validated = schema.model_validate(dict(values))
    except ValidationError as exc:
        return _errors(exc, prefix)
    return validated.model_dump(exclude_unset=partial)


class _Plan:
    """A checked body: the row's values, its many-to-many keys and the inline writes."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.relations: dict[str, list[Any]] = {}
        self.inlines: list[tuple[Inline, str, Any, dict[str, Any]]] = []  # (inline, create|update|delete, pk, values)
        self.errors: list[dict[str, str]] = []


def _split(model_admin: ModelAdmin, body: Mapping[str, Any], partial: bool) -> _Plan:
    plan = _Plan()
    inlines = {inline.name: inline for inline in model_admin.inline_admins}
    own: dict[str, Any] = {}
    for key, value in body.items():
        info = model_admin.fields.get(key)
        if key in inlines:
            _plan_inline(plan, inlines[key], value)
        elif info is None:
            if key != "_label":
                plan.errors.append({"field": key, "message": f"{model_admin.model.__name__} has no field {key!r}."})
        elif key == model_admin.pk or key in model_admin.readonly_fields or info.server_set:
            continue  # shown on the form, never written from it
        elif info.kind == "m2m":
            keys, problem = check_keys(model_admin, key, value) if isinstance(value, list) else ([], None)
            if not isinstance(value, list):
                plan.errors.append({"field": key, "message": "A list of keys is expected."})
            elif problem is not None:
                plan.errors.append({"field": key, "message": problem})
            else:
                plan.relations[key] = keys
        else:
            own[key] = value
    schema = model_admin.resource.update_schema if partial else model_admin.resource.create_schema
    found = _validate(schema, own, partial)
    if isinstance(found, list):
        plan.errors.extend(found)
    else:
        plan.values = found
    return plan


def _plan_inline(plan: _Plan, inline: Inline, rows: Any) -> None:
    if not isinstance(rows, list):
        plan.errors.append({"field": inline.name, "message": "A list of rows is expected."})
        return
    resource = inline.resource
    pk = resource.info.pk_name
    for index, row in enumerate(rows):
        prefix = f"{inline.name}.{index}."
        if not isinstance(row, dict):
            plan.errors.append({"field": prefix.rstrip("."), "message": "A row (an object) is expected."})
            continue
        key = row.get(pk)
        if row.get(DELETE_KEY):
            if key is None:
                plan.errors.append({"field": prefix + pk, "message": "A row to delete needs its key."})
            else:
                plan.inlines.append((inline, "delete", key, {}))
            continue
        values = {name: value for name, value in row.items() if name in inline.fields and name != inline.fk}
        unknown = [name for name in row if name not in inline.fields and name not in (pk, inline.fk, "_label")]
        plan.errors.extend(
            {"field": prefix + name, "message": f"{resource.model.__name__} has no field {name!r}."} for name in unknown
        )
        if key is None:
            schema, partial = resource.create_schema, False
            values = {**values, inline.fk: 0}  # a placeholder: the parent's key is set when it is written
        else:
            schema, partial = resource.update_schema, True
        found = _validate(schema, values, partial, prefix)
        if isinstance(found, list):
            plan.errors.extend(found)
        else:
            found.pop(inline.fk, None)
            plan.inlines.append((inline, "create" if key is None else "update", key, found))


async def save(model_admin: ModelAdmin, caller: Caller, body: Any, pk: Any = None) -> Any:
    """Create (``pk`` None) or change a row from a form body, with its inlines, in one transaction; its key.

    Raises:
        FieldErrors: values to correct (nothing was written).
        ProblemError: a permission refused, a row the caller cannot see (404), a constraint (409): all rolled back.
    """
    if not isinstance(body, dict):
        raise FieldErrors([{"field": "", "message": "The body must be a JSON object of field values."}])
    plan = _split(model_admin, body, partial=pk is not None)
    if plan.errors:
        raise FieldErrors(plan.errors)
    resource = model_admin.resource
    async with transaction():
        relations = await merged_links(model_admin, caller, pk, plan.relations) if plan.relations else {}
        if pk is None:
            row = await resource.create(caller, plan.values, relations=relations)
            pk = row[model_admin.pk]
        else:
            await resource.update(caller, pk, plan.values, relations=relations)
        for inline, operation, key, values in plan.inlines:
            await _write_inline(inline, caller, pk, operation, key, values)
    return pk


async def _write_inline(inline: Inline, caller: Caller, parent: Any, operation: str, key: Any, values: Any) -> None:
    resource: ModelResource[Any] = inline.resource
    assert inline.fk is not None
    if operation == "create":
        await resource.create(caller, {**values, inline.fk: parent})
        return
    # A row of another parent is not this form's to change: as unseen.
    if not await (await resource.queryset(caller)).filter(**{resource.info.pk_name: key, inline.fk: parent}).exists():
        raise resource.not_found(key)
    if operation == "delete":
        await resource.delete(caller, key)
    else:
        await resource.update(caller, key, values)


async def inline_rows(model_admin: ModelAdmin, caller: Caller, pk: Any) -> dict[str, list[Any]]:
    """The rows of each inline of row ``pk`` that the caller may list (an inline they may not is left out), and
    the keys of each many-to-many field the caller may see (the detail's rows of other models)."""
    found: dict[str, list[Any]] = dict(await visible_links(model_admin, caller, pk))
    for inline in model_admin.inline_admins:
        resource = inline.resource
        if not await resource.allowed(caller, "list"):
            continue
        assert inline.fk is not None  # bound when registered
        queryset = (await resource.queryset(caller)).filter(**{inline.fk: pk}).order_by(resource.info.pk_name)
        found[inline.name] = await resource.rows(queryset[:500])
    return found


async def delete_preview(model_admin: ModelAdmin, caller: Caller, pk: Any) -> dict[str, Any]:
    """The row and how many rows of each other model refer to it (deleted with it, or unlinked)."""
    resource = model_admin.resource
    await resource.authorize(caller, "delete")
    await resource.authorize(caller, "get")
    row = await resource.read_one(caller, pk)
    from sqlmodel.main import default_registry

    table = model_admin.resource.info.mapper.local_table
    cascades = []
    for mapper in sorted(default_registry.mappers, key=lambda m: m.class_.__name__):
        for column in mapper.local_table.columns:
            for foreign_key in column.foreign_keys:
                if foreign_key.column.table is not table:
                    continue
                model = mapper.class_
                name = mapper.get_property_by_column(column).key
                site = model_admin.site
                registered = site.admin_of_model(model) if site is not None else None
                counted = await _related_count(registered, caller, model, name, pk)
                if counted:
                    ondelete = (foreign_key.ondelete or "NO ACTION").upper()
                    cascades.append(
                        {
                            "model": registered.name if registered is not None else model.__tablename__,
                            "label": model.__name__,
                            "field": name,
                            "count": counted,
                            "on_delete": ondelete,
                        }
                    )
    return {"object": row, "cascades": cascades}


async def _related_count(registered: ModelAdmin | None, caller: Caller, model: type[Any], name: str, pk: Any) -> int:
    """The rows of ``model`` referring to ``pk`` through ``name`` that the caller may see: through its admin's
    resource when it has one (none when the caller may not list it); a model with no admin (a link table, a
    log) is counted for a superuser only."""
    if registered is None:
        if caller.user is None or not caller.user.is_superuser:
            return 0
        return int(await model.objects.filter(**{name: pk}).count())
    if not await registered.resource.allowed(caller, "list"):
        return 0
    return await (await registered.resource.queryset(caller)).filter(**{name: pk}).count()


def primary_key_of(model_admin: ModelAdmin, raw: str) -> Any:
    """A path's key as the model's key type (a 404 when it cannot be one: no such row)."""
    from fastmango.api.bounds import value_adapter

    try:
        return value_adapter(model_admin.model, model_info(model_admin.model).pk_name).validate_python(raw)
    except ValueError:
        raise model_admin.resource.not_found(raw) from None
