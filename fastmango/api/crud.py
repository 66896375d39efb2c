"""``CRUDRouter``: list, get, create, update, replace and delete endpoints over a model's resource.

Reads select exactly the columns of the read schema (and of ``select_related`` relations) as rows and
serialize them to JSON once; no model instances are built and nothing is validated twice.
"""

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel
from starlette.convertors import Convertor, register_url_convertor

from fastmango.api.bounds import TEXT_PATTERN, integer_bounds, key_adapter, parameter_schema
from fastmango.api.filters import DEFAULT_MAX_SEARCH_LENGTH, BadQueryParameter, field_type
from fastmango.api.pagination import cursor_page_schema, decode_cursor, encode_cursor, page_schema
from fastmango.api.resource import (
    ACTIONS,
    Action,
    Caller,
    ModelResource,
    PermissionPolicy,
    check_actions,
    page_total,
    resource_of,
)
from fastmango.api.serialize import dumps
from fastmango.auth.dependencies import PERMISSIONS_ATTRIBUTE, oauth2_scheme, optional_user
from fastmango.auth.errors import NotAuthenticated
from fastmango.auth.models import User
from fastmango.auth.permissions import PERMISSION_OF
from fastmango.core.limits import LIMIT_SETTING
from fastmango.core.problems import problem_responses
from fastmango.db.query import QuerySet

__all__ = ["ACTIONS", "PERMISSION_OF", "Action", "CRUDRouter", "PermissionPolicy"]

#: The ``fastmango check`` id of a router's ``actions`` naming no action.
UNKNOWN_ACTION = "fastmango.E203"


class IntegerKey(Convertor[int]):
    """``{pk:fastmango_int}``: an integer primary key in a path, at most 20 digits.

    Only integers match, so ``PUT /posts/latest`` is not ``PUT /posts/{pk}`` with a bad ``pk`` (a 401 or 422)
    but a method the path ``/posts/latest`` does not have (405); and a thousand digits are a 404, not an
    integer to parse.
    """

    regex = "-?[0-9]{1,20}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(int(value))


register_url_convertor("fastmango_int", IntegerKey())


class CRUDRouter(APIRouter):
    """Endpoints for a :class:`~fastmango.api.resource.ModelResource` (or a model, which gets a default one) under
    ``prefix`` (default ``/<table>``), with stable operation ids (``book_list``, ``book_get``, ``book_create``,
    ``book_update``, ``book_replace``, ``book_delete``). Every endpoint goes through the resource: its rows for the
    caller, its permission decision, its filters and schemas.

    Args:
        model: A ModelResource, or a table model (then the resource options below build its resource; with a
            resource they belong to the resource and are refused here).
        prefix: URL prefix.
        read_schema / create_schema / update_schema: Pydantic models; derived with :func:`schema_for` when None.
        filter_fields: Fields (``author__name`` across relations) usable as ``?field__lookup=value``.
        search_fields: Fields ``?search=`` matches (case-insensitive substring, any of them).
        ordering_fields: Fields ``?ordering=-field,other`` accepts.
        select_related: To-one relations loaded with one JOIN and nested in responses.
        permissions: True (the default): ``<table>.view/add/change/delete`` (401 anonymous, 403 without it); False:
            open; ``"writes"``: reads open, writes need the permission; or ``callable(user, action) -> bool``.
        actions: Which endpoints to create.
        queryset: The base QuerySet (e.g. only published rows), or a callable of the request returning one (a
            resource takes a callable of the :class:`~fastmango.api.resource.Caller`, with or without a request).
        pagination: ``"offset"`` (``limit``/``offset`` and a ``total``) or ``"cursor"`` (``next`` cursors).
        default_limit / max_limit: Page sizes.
        tags: OpenAPI tags (default: the table name).
    """

    def __init__(
        self,
        model: type[Any] | ModelResource[Any],
        *,
        prefix: str | None = None,
        read_schema: type[BaseModel] | None = None,
        create_schema: type[BaseModel] | None = None,
        update_schema: type[BaseModel] | None = None,
        filter_fields: Sequence[str] = (),
        search_fields: Sequence[str] = (),
        ordering_fields: Sequence[str] = (),
        select_related: Sequence[str] = (),
        permissions: PermissionPolicy | None = None,
        actions: Sequence[Action] = ACTIONS,
        queryset: QuerySet[Any] | Callable[[Request], QuerySet[Any]] | None = None,
        pagination: Literal["offset", "cursor"] = "offset",
        default_limit: int = 20,
        max_limit: int = 100,
        tags: list[str] | None = None,
    ) -> None:
        base: Any = queryset
        if callable(queryset) and not isinstance(queryset, QuerySet):
            by_request = queryset
            base = lambda caller: by_request(caller.request)  # noqa: E731 (the router's form: a function of the request)
        self.resource = resource = resource_of(
            model,
            read_schema=read_schema,
            create_schema=create_schema,
            update_schema=update_schema,
            filter_fields=filter_fields,
            search_fields=search_fields,
            ordering_fields=ordering_fields,
            select_related=select_related,
            permissions=permissions,
            queryset=base,
        )
        self.model = resource.model
        self.info = resource.info
        self.table = resource.table
        super().__init__(prefix=prefix if prefix is not None else f"/{self.table}", tags=list(tags or [self.table]))
        self.select_related = resource.select_related
        self.read_schema, self.create_schema = resource.read_schema, resource.create_schema
        self.update_schema = resource.update_schema
        self.filters = resource.filters
        self.permissions = resource.permissions
        self.pagination = pagination
        self.default_limit, self.max_limit = default_limit, max_limit
        self.pk_path = "/{pk:fastmango_int}" if integer_bounds(self.model, self.info.pk_name) is not None else "/{pk}"
        for action in check_actions(actions, f"actions of the CRUDRouter of {resource.name}", UNKNOWN_ACTION):
            getattr(self, f"_add_{action}")()

    # -- callers ----------------------------------------------------------------------------------
    async def caller(self, request: Request) -> Caller:
        """The caller of a request: its user and the request. On open endpoints the user only scopes the rows, so
        no security requirement is declared there and invalid credentials count as none (public rows only)."""
        try:
            user = await optional_user(request, await oauth2_scheme(request))
        except NotAuthenticated:
            user = None
        return Caller(user=user, request=request)

    async def read_rows(self, queryset: QuerySet[Any]) -> list[dict[str, Any]]:
        """The rows of ``queryset`` shaped as the read schema (JSON-ready dicts)."""
        return await self.resource.rows(queryset)

    async def read_one(self, request: Request | None, pk: Any) -> dict[str, Any]:
        """One row as the request's caller sees it (no permission check)."""
        caller = await self.caller(request) if request is not None else Caller()
        return await self.resource.read_one(caller, pk)

    # -- permissions ------------------------------------------------------------------------------
    def guard(self, action: Action) -> list[Any]:
        """The dependencies that check ``action``'s permission (the resource decides); none when it is open, so
        the OpenAPI document declares a security requirement exactly where credentials are needed."""
        if not self.resource.guarded(action):
            return []
        resource = self.resource

        async def allowed(request: Request, user: Annotated[User | None, Depends(optional_user)]) -> None:
            await resource.authorize(Caller(user=user, request=request), action)

        allowed.__name__ = f"{self.resource.name}_{action}_allowed"
        setattr(allowed, PERMISSIONS_ATTRIBUTE, resource.required(action))  # route tools read what it requires
        return [Depends(allowed)]

    def errors(self, action: Action, *statuses: int) -> dict[int | str, dict[str, Any]]:
        guarded = self.resource.guarded(action)
        return problem_responses(*statuses, *((401, 403) if guarded else ()))

    def _pk_type(self) -> Any:
        python_type = field_type(self.model, self.info.pk_name)
        bounds = integer_bounds(self.model, self.info.pk_name)
        if bounds is not None:
            return Annotated[int, Path(ge=bounds[0], le=bounds[1], description="The primary key.")]
        return Annotated[python_type, Path(description="The primary key.")]

    def _filter_parameters(self) -> list[dict[str, Any]]:
        parameters = []
        for field in sorted(self.filters.filter_fields):
            parameters.append(
                {
                    "name": field,
                    "in": "query",
                    "required": False,
                    "schema": parameter_schema(self.model, field),
                    "description": f"Filter on {field}; lookups as {field}__icontains, __in (comma-separated), "
                    "__gte, __lt, __isnull, __year ...",
                }
            )
        return parameters

    async def _filtered(self, request: Request, caller: Caller) -> QuerySet[Any]:
        """The caller's rows narrowed by the request's filters, search and ordering."""
        settings = getattr(request.app.state, "settings", None)
        limit = getattr(settings, "api_max_search_length", DEFAULT_MAX_SEARCH_LENGTH)
        return self.resource.filtered(
            await self.resource.queryset(caller), request.query_params, max_search_length=limit
        )

    # -- endpoints --------------------------------------------------------------------------------
    def _add_list(self) -> None:
        cursor_mode = self.pagination == "cursor"
        response_model = cursor_page_schema(self.read_schema) if cursor_mode else page_schema(self.read_schema)
        default_limit, max_limit, pk_name = self.default_limit, self.max_limit, self.info.pk_name
        cursor_key = key_adapter(self.model)
        ordering_pattern = self.filters.ordering_pattern()

        async def list_items(
            request: Request,
            limit: Annotated[int, Query(ge=1, le=max_limit, description="Page size.")] = default_limit,
            offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="Rows to skip.")] = 0,
            cursor: Annotated[str | None, Query(description="The `next` cursor of the previous page.")] = None,
            ordering: Annotated[
                str | None,
                Query(
                    # Documented, not enforced by FastAPI: a bad value gets fastmango's 400 naming the fields.
                    json_schema_extra={"pattern": ordering_pattern},
                    description="Comma-separated fields, `-` for descending.",
                ),
            ] = None,
            search: Annotated[
                str | None,
                Query(
                    # The limit is the setting api_max_search_length, enforced by FilterSpec.apply (a 400).
                    json_schema_extra={"pattern": TEXT_PATTERN, LIMIT_SETTING: "api_max_search_length"},
                    description="Case-insensitive text search.",
                ),
            ] = None,
        ) -> Response:
            params = request.query_params
            caller = await self.caller(request)
            if cursor_mode:
                # Parameters of the other pagination mode are refused, never ignored.
                if "offset" in params:
                    raise BadQueryParameter("offset", "This endpoint pages with cursors: pass `cursor`, not `offset`.")
                if "ordering" in params:
                    raise BadQueryParameter("ordering", "Cursor pages are ordered by primary key; drop `ordering`.")
                after = decode_cursor(cursor, cursor_key) if cursor is not None else None
                queryset = (await self._filtered(request, caller)).order_by(pk_name)
                if after is not None:
                    queryset = queryset.filter(**{f"{pk_name}__gt": after})
                items = await self.read_rows(queryset[: limit + 1])
                following = encode_cursor(items[limit - 1][pk_name]) if len(items) > limit else None
                return Response(
                    dumps({"items": items[:limit], "next": following, "limit": limit}), media_type="application/json"
                )
            if "cursor" in params:
                raise BadQueryParameter("cursor", "This endpoint pages with `limit` and `offset`, not cursors.")
            queryset = await self._filtered(request, caller)
            items = await self.read_rows(queryset[offset : offset + limit])
            total = await page_total(queryset, items, limit, offset)
            payload = {"items": items, "total": total, "limit": limit, "offset": offset}
            return Response(dumps(payload), media_type="application/json")

        if cursor_mode:
            _drop_parameter(list_items, "offset")
        else:
            _drop_parameter(list_items, "cursor")
        if not self.filters.search_fields:
            _drop_parameter(list_items, "search")
        if not self.filters.ordering_fields or cursor_mode:
            _drop_parameter(list_items, "ordering")
        self.add_api_route(
            "",
            list_items,
            methods=["GET"],
            operation_id=f"{self.table}_list",
            summary=f"List {self.table} rows",
            response_model=response_model,
            dependencies=self.guard("list"),
            responses=self.errors("list", 400, 422),
            openapi_extra={"parameters": self._filter_parameters()},
        )

    def _add_get(self) -> None:
        pk_type = self._pk_type()

        async def get_item(request: Request, pk: pk_type) -> Response:  # type: ignore[valid-type]
            row = await self.resource.get(await self.caller(request), pk)
            return Response(dumps(row), media_type="application/json")

        self.add_api_route(
            self.pk_path,
            get_item,
            methods=["GET"],
            operation_id=f"{self.table}_get",
            summary=f"Get one {self.table} row",
            response_model=self.read_schema,
            dependencies=self.guard("get"),
            responses=self.errors("get", 404, 422),
        )

    def _add_create(self) -> None:
        create_schema = self.create_schema

        async def create_item(request: Request, body: create_schema) -> Response:  # type: ignore[valid-type]
            # The db layer decides how: one INSERT ... RETURNING, or the model's own save() when it overrides it.
            row = await self.resource.create(await self.caller(request), body.model_dump())  # type: ignore[attr-defined]
            pk = row[self.info.pk_name]
            location = f"{request.url.path.rstrip('/')}/{pk}"
            return Response(dumps(row), status_code=201, media_type="application/json", headers={"Location": location})

        self.add_api_route(
            "",
            create_item,
            methods=["POST"],
            status_code=status.HTTP_201_CREATED,
            operation_id=f"{self.table}_create",
            summary=f"Create a {self.table} row",
            response_model=self.read_schema,
            dependencies=self.guard("create"),
            responses=self.errors("create", 400, 409, 422),
        )

    def _write(self, action: Action, schema: type[BaseModel], partial: bool) -> Callable[..., Awaitable[Response]]:
        pk_type = self._pk_type()

        async def write_item(request: Request, pk: pk_type, body: schema) -> Response:  # type: ignore[valid-type]
            data = body.model_dump(exclude_unset=partial)  # type: ignore[attr-defined]
            row = await self.resource.update(await self.caller(request), pk, data, action=action)
            return Response(dumps(row), media_type="application/json")

        return write_item

    def _add_update(self) -> None:
        self.add_api_route(
            self.pk_path,
            self._write("update", self.update_schema, partial=True),
            methods=["PATCH"],
            operation_id=f"{self.table}_update",
            summary=f"Update fields of a {self.table} row",
            response_model=self.read_schema,
            dependencies=self.guard("update"),
            responses=self.errors("update", 400, 404, 409, 422),
        )

    def _add_replace(self) -> None:
        self.add_api_route(
            self.pk_path,
            self._write("replace", self.create_schema, partial=False),
            methods=["PUT"],
            operation_id=f"{self.table}_replace",
            summary=f"Replace a {self.table} row",
            response_model=self.read_schema,
            dependencies=self.guard("replace"),
            responses=self.errors("replace", 400, 404, 409, 422),
        )

    def _add_delete(self) -> None:
        pk_type = self._pk_type()

        async def delete_item(request: Request, pk: pk_type) -> Response:  # type: ignore[valid-type]
            await self.resource.delete(await self.caller(request), pk)
            return Response(status_code=status.HTTP_204_NO_CONTENT)

        self.add_api_route(
            self.pk_path,
            delete_item,
            methods=["DELETE"],
            status_code=status.HTTP_204_NO_CONTENT,
            operation_id=f"{self.table}_delete",
            summary=f"Delete a {self.table} row",
            response_class=Response,
            dependencies=self.guard("delete"),
            responses=self.errors("delete", 404, 409, 422),
        )


def _drop_parameter(function: Callable[..., Any], name: str) -> None:
    """Remove a keyword parameter from an endpoint's signature (so it is neither read nor documented)."""
    signature = inspect.signature(function)
    function.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for p in signature.parameters.values() if p.name != name]
    )
