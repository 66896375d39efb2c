"""The admin API under ``/admin/api``: staff only (401 anonymous, 403 otherwise), then each model's permissions.

Every endpoint goes through the model admin's resource: a row the resource hides from the caller is a 404 here as
over HTTP and to an AI tool. The contract (what the Vue SPA codes against) is in docs/admin.md. The routes are
left out of the app's OpenAPI document: they are the admin UI's, not the project's API.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from fastmango.admin import assistant, editing, listing, relations
from fastmango.admin.actions import run_action
from fastmango.admin.site import AdminSite
from fastmango.admin.users import set_password
from fastmango.api.caller import Caller
from fastmango.api.history import history
from fastmango.api.serialize import dumps
from fastmango.auth.dependencies import require_staff
from fastmango.auth.models import User
from fastmango.core.errors import ProblemError

#: Rows a page holds at most, and by default.
MAX_LIMIT, DEFAULT_LIMIT = 200, 50
#: Rows a CSV export holds at most.
MAX_EXPORT_ROWS = 100_000
_EXPORT_CHUNK = 1000
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Staff = Annotated[User, Depends(require_staff)]


def _json(payload: Any, status_code: int = 200) -> Response:
    return Response(dumps(payload), status_code=status_code, media_type="application/json")


def admin_router(site: AdminSite, prefix: str = "/admin/api") -> APIRouter:
    """The admin API of ``site`` under ``prefix``."""
    router = APIRouter(prefix=prefix, tags=["admin"], include_in_schema=False)

    def caller(request: Request, user: User) -> Caller:
        return Caller(user=user, request=request, surface="admin")

    @router.get("/site")
    async def site_schema(request: Request, user: Staff) -> Response:
        me = caller(request, user)
        models = [found for admin in site if (found := await admin.describe(me)) is not None]
        who = {"id": user.id, "username": user.username, "is_superuser": user.is_superuser}
        available = assistant.available(site, request.app.settings)
        return _json({"user": who, "models": models, "assistant": available})

    @router.get("/models/{name}")
    async def list_rows(
        request: Request,
        name: str,
        user: Staff,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    ) -> Response:
        model_admin = site.get(name)
        params = list(request.query_params.multi_items())
        return _json(await listing.page(model_admin, caller(request, user), params, limit))

    @router.get("/models/{name}/facets")
    async def facets(request: Request, name: str, user: Staff, field: str) -> Response:
        params = list(request.query_params.multi_items())
        return _json(await listing.facets(site.get(name), caller(request, user), params))

    @router.get("/models/{name}/autocomplete")
    async def autocomplete(
        request: Request,
        name: str,
        user: Staff,
        q: str = "",
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        pks: str = "",
    ) -> Response:
        keys = [key.strip() for key in pks.split(",") if key.strip()]
        return _json(await listing.autocomplete(site.get(name), caller(request, user), q, limit, keys))

    @router.get("/models/{name}/export.csv")
    async def export_csv(request: Request, name: str, user: Staff) -> Response:
        model_admin = site.get(name)
        me = caller(request, user)
        params = list(request.query_params.multi_items())
        queryset = await listing.filtered(model_admin, me, params)
        queryset = queryset.order_by(*listing.ordering_of(model_admin, dict(params)))
        columns = list(model_admin.list_display)
        resource = model_admin.resource

        async def lines() -> AsyncIterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(columns)
            for start in range(0, MAX_EXPORT_ROWS, _EXPORT_CHUNK):
                rows = await resource.rows(queryset[start : start + _EXPORT_CHUNK])
                for row in rows:
                    writer.writerow([_cell(model_admin, row, column) for column in columns])
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                if len(rows) < _EXPORT_CHUNK:
                    break

        headers = {"Content-Disposition": f'attachment; filename="{model_admin.name}.csv"'}
        return StreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers=headers)

    @router.post("/models/{name}")
    async def create_row(request: Request, name: str, user: Staff, body: Annotated[Any, Body()] = None) -> Response:
        model_admin = site.get(name)
        me = caller(request, user)
        pk = await editing.save(model_admin, me, body)
        return _json(await _detail(model_admin, me, pk), status_code=201)

    @router.post("/models/{name}/actions/{action}")
    async def run(
        request: Request, name: str, action: str, user: Staff, body: Annotated[Any, Body()] = None
    ) -> Response:
        model_admin = site.get(name)
        chosen = model_admin.admin_actions.get(action)
        if chosen is None:
            raise ProblemError(404, f"{model_admin.label} have no action {action!r}.")
        pks = body.get("pks") if isinstance(body, dict) else None
        if not isinstance(pks, list) or not pks:
            raise editing.FieldErrors([{"field": "pks", "message": "A non-empty list of primary keys is expected."}])
        keys = [editing.primary_key_of(model_admin, str(pk)) for pk in pks]
        return _json(await run_action(model_admin.resource, chosen, caller(request, user), keys))

    @router.get("/models/{name}/{pk}")
    async def get_row(request: Request, name: str, pk: str, user: Staff) -> Response:
        model_admin = site.get(name)
        me = caller(request, user)
        key = editing.primary_key_of(model_admin, pk)
        await model_admin.resource.authorize(me, "get")
        return _json(await _detail(model_admin, me, key))

    @router.patch("/models/{name}/{pk}")
    async def update_row(
        request: Request, name: str, pk: str, user: Staff, body: Annotated[Any, Body()] = None
    ) -> Response:
        model_admin = site.get(name)
        me = caller(request, user)
        key = await editing.save(model_admin, me, body, editing.primary_key_of(model_admin, pk))
        return _json(await _detail(model_admin, me, key))

    @router.delete("/models/{name}/{pk}")
    async def delete_row(request: Request, name: str, pk: str, user: Staff) -> Response:
        model_admin = site.get(name)
        await model_admin.resource.delete(caller(request, user), editing.primary_key_of(model_admin, pk))
        return Response(status_code=204)

    @router.get("/models/{name}/{pk}/delete-preview")
    async def delete_preview(request: Request, name: str, pk: str, user: Staff) -> Response:
        model_admin = site.get(name)
        key = editing.primary_key_of(model_admin, pk)
        return _json(await editing.delete_preview(model_admin, caller(request, user), key))

    @router.post("/models/{name}/{pk}/password")
    async def password(
        request: Request, name: str, pk: str, user: Staff, body: Annotated[Any, Body()] = None
    ) -> Response:
        model_admin = site.get(name)
        if model_admin.model is not User:
            raise ProblemError(404, f"{model_admin.label} have no password.")
        key = editing.primary_key_of(model_admin, pk)
        given = body.get("password") if isinstance(body, dict) else None
        await set_password(model_admin.resource, caller(request, user), key, given)
        return Response(status_code=204)

    @router.get("/models/{name}/{pk}/history")
    async def row_history(request: Request, name: str, pk: str, user: Staff) -> Response:
        model_admin = site.get(name)
        me = caller(request, user)
        key = editing.primary_key_of(model_admin, pk)
        await model_admin.resource.authorize(me, "get")
        try:
            await model_admin.resource.read_one(me, key)
        except ProblemError:
            # One the caller cannot see (but exists) is a 404 as everywhere. A deleted row keeps its history, but
            # whether the caller could have seen it is no longer known: only an unscoped resource's or a
            # superuser's is shown.
            exists = await model_admin.model.objects.filter(pk=key).exists()
            if exists or (model_admin.resource.scoped and not user.is_superuser):
                raise
        entries = [entry.as_dict() for entry in await history.of(model_admin.model, key)]
        return _json({"items": await _visible_changes(model_admin, me, entries)})

    return router


async def _detail(model_admin: Any, caller: Caller, pk: Any) -> dict[str, Any]:
    row = await model_admin.resource.read_one(caller, pk)
    row = await listing.with_relations(model_admin, row, caller)
    row.update(await editing.inline_rows(model_admin, caller, pk))
    return dict(row)


async def _visible_changes(model_admin: Any, caller: Caller, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """History entries with the keys of many-to-many changes the caller may see only (a link to a hidden row is
    left out of its ``[before, after]`` lists)."""
    for name, info in model_admin.fields.items():
        if info.kind != "m2m" or info.related is None:
            continue
        changed = [entry["changes"][name] for entry in entries if isinstance(entry["changes"].get(name), list)]
        keys = [key for change in changed for side in change if isinstance(side, list) for key in side]
        shown = await relations.visible(model_admin, caller, info.related, keys)
        for change in changed:
            change[:] = [[key for key in side if key in shown] if isinstance(side, list) else side for side in change]
    return entries


def _cell(model_admin: Any, row: dict[str, Any], column: str) -> Any:
    value = row.get(column)
    if isinstance(value, dict):
        relation = model_admin.resource.info.relations[column].mapper.class_
        from fastmango.api.labels import object_label

        value = object_label(relation, value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value  # a spreadsheet would run it as a formula (CSV injection)
    return "" if value is None else value
