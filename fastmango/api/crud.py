"""``CRUDRouter``: list, get, create, update, replace and delete endpoints for a model, permission-checked.

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
from fastmango.api.filters import DEFAULT_MAX_SEARCH_LENGTH, BadQueryParameter, FilterSpec, field_type
from fastmango.api.pagination import cursor_page_schema, decode_cursor, encode_cursor, page_schema
from fastmango.api.rows import row_builder
from fastmango.api.schemas import schema_for
from fastmango.api.serialize import dumps
from fastmango.auth.dependencies import optional_user, require_permission
from fastmango.auth.errors import NotAuthenticated, PermissionDenied
from fastmango.auth.models import User
from fastmango.core.errors import ProblemError
from fastmango.core.limits import LIMIT_SETTING
from fastmango.core.problems import problem_responses
from fastmango.db.compiler import model_info
from fastmango.db.query import QuerySet

Action = Literal["list", "get", "create", "update", "replace", "delete"]
ACTIONS: tuple[Action, ...] = ("list", "get", "create", "update", "replace", "delete")
PAGE_PARAMETERS = frozenset({"limit", "offset", "cursor"})
PERMISSION_OF = {
    "list": "view",
    "get": "view",
    "create": "add",
    "update": "change",
    "replace": "change",
    "delete": "delete",
}
PermissionPolicy = bool | Literal["writes"] | Callable[[User | None, Action], bool | Awaitable[bool]]


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
    """Endpoints for ``model`` under ``prefix`` (default ``/<table>``), with stable operation ids
    (``book_list``, ``book_get``, ``book_create``, ``book_update``, ``book_replace``, ``book_delete``).

    Args:
        model: A table model.
        prefix: URL prefix.
        read_schema / create_schema / update_schema: Pydantic models; derived with :func:`schema_for` when None.
        filter_fields: Fields (``author__name`` across relations) usable as ``?field__lookup=value``.
        search_fields: Fields ``?search=`` matches (case-insensitive substring, any of them).
        ordering_fields: Fields ``?ordering=-field,other`` accepts.
        select_related: To-one relations loaded with one JOIN and nested in responses.
        permissions: True: ``<table>.view/add/change/delete`` (401 anonymous, 403 without it); False: open;
            ``"writes"``: reads open, writes need the permission; or ``callable(user, action) -> bool``.
        actions: Which endpoints to create.
        queryset: The base QuerySet (e.g. only published rows), or a callable of the request returning one.
        pagination: ``"offset"`` (``limit``/``offset`` and a ``total``) or ``"cursor"`` (``next`` cursors).
        default_limit / max_limit: Page sizes.
        tags: OpenAPI tags (default: the table name).
    """

    def __init__(
        self,
        model: type[Any],
        *,
        prefix: str | None = None,
        read_schema: type[BaseModel] | None = None,
        create_schema: type[BaseModel] | None = None,
        update_schema: type[BaseModel] | None = None,
        filter_fields: Sequence[str] = (),
        search_fields: Sequence[str] = (),
        ordering_fields: Sequence[str] = (),
        select_related: Sequence[str] = (),
        permissions: PermissionPolicy = True,
        actions: Sequence[Action] = ACTIONS,
        queryset: QuerySet[Any] | Callable[[Request], QuerySet[Any]] | None = None,
        pagination: Literal["offset", "cursor"] = "offset",
        default_limit: int = 20,
        max_limit: int = 100,
        tags: list[str] | None = None,
    ) -> None:
        self.model = model
        self.info = model_info(model)
        self.table = model.__tablename__
        super().__init__(prefix=prefix if prefix is not None else f"/{self.table}", tags=list(tags or [self.table]))  # type: ignore[arg-type]
        self.select_related = tuple(select_related)
        self.read_schema = read_schema or schema_for(model, "read", relations=self.select_related)
        self.create_schema = create_schema or schema_for(model, "create")
        self.update_schema = update_schema or schema_for(model, "update")
        self.filters = FilterSpec(
            model, filter_fields=filter_fields, search_fields=search_fields, ordering_fields=ordering_fields
        )
        self.permissions = permissions
        self.pagination = pagination
        self.default_limit, self.max_limit = default_limit, max_limit
        self._queryset = queryset
        self.pk_path = "/{pk:fastmango_int}" if integer_bounds(model, self.info.pk_name) is not None else "/{pk}"
        self._plan_reads()
        for action in actions:
            getattr(self, f"_add_{action}")()

    # -- reads ------------------------------------------------------------------------------------
    def _plan_reads(self) -> None:
        """Which columns to select for the read schema; None when it needs model instances."""
        fields = list(self.read_schema.model_fields)
        self.columns = [f for f in fields if f in self.info.columns]
        self.relations: dict[str, tuple[str, list[str]]] = {}
        for relation in self.select_related:
            rel = self.info.relations[relation]
            nested = self.read_schema.model_fields.get(relation)
            target = model_info(rel.mapper.class_)
            annotation = nested.annotation if nested else None
            nested_model = next(
                (a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)), None
            )
            nested_fields = (
                list(nested_model.model_fields) if nested_model and issubclass(nested_model, BaseModel) else []
            )
            self.relations[relation] = (target.pk_name, [f for f in nested_fields if f in target.columns])
        self.paths = self.columns + [
            f"{relation}__{f}" for relation, (pk, names) in self.relations.items() for f in {pk, *names}
        ]
        self.rows_fast_path = set(fields) <= {*self.columns, *self.relations}
        self.build = row_builder(self.paths, self.columns, self.relations)

    def queryset(self, request: Request) -> QuerySet[Any]:
        """The base QuerySet of every endpoint."""
        if self._queryset is None:
            return self.model.objects.all()  # type: ignore[no-any-return]
        if isinstance(self._queryset, QuerySet):
            return self._queryset
        return self._queryset(request)

    async def read_rows(self, queryset: QuerySet[Any]) -> list[dict[str, Any]]:
        """The rows of ``queryset`` shaped as the read schema (JSON-ready dicts)."""
        if self.rows_fast_path:
            rows = await queryset.values_list(*self.paths)
            return [self.build(row) for row in rows]
        objects = await queryset.select_related(*self.select_related)
        return [self.read_schema.model_validate(obj).model_dump(mode="json") for obj in objects]

    async def read_one(self, request: Request | None, pk: Any) -> dict[str, Any]:
        rows = await self.read_rows(self.queryset(request).filter(pk=pk)[:1])  # type: ignore[arg-type]
        row = rows[0] if rows else None
        if row is None:
            raise ProblemError(404, f"{self.model.__name__} {pk} does not exist.", title="Not found")
        return row

    # -- permissions ------------------------------------------------------------------------------
    def guard(self, action: Action) -> list[Any]:
        """The dependencies that check ``action``'s permission."""
        policy = self.permissions
        if policy is False or (policy == "writes" and action in ("list", "get")):
            return []
        if policy is True or policy == "writes":
            return [Depends(require_permission(f"{self.table}.{PERMISSION_OF[action]}"))]
        check = policy

        async def allowed(user: Annotated[User | None, Depends(optional_user)]) -> None:
            verdict = check(user, action)  # type: ignore[operator]
            if inspect.isawaitable(verdict):
                verdict = await verdict
            if not verdict:
                if user is None:
                    raise NotAuthenticated()
                raise PermissionDenied(f"Not allowed to {action} {self.table}.")

        return [Depends(allowed)]

    def errors(self, action: Action, *statuses: int) -> dict[int | str, dict[str, Any]]:
        guarded = self.permissions is not False and not (self.permissions == "writes" and action in ("list", "get"))
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

    def _filtered(self, request: Request) -> QuerySet[Any]:
        """The base QuerySet narrowed by the request's filters, search and ordering."""
        settings = getattr(request.app.state, "settings", None)
        limit = getattr(settings, "api_max_search_length", DEFAULT_MAX_SEARCH_LENGTH)
        return self.filters.apply(self.queryset(request), request.query_params, max_search_length=limit)

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
            if cursor_mode:
                # Parameters of the other pagination mode are refused, never ignored.
                if "offset" in params:
                    raise BadQueryParameter("offset", "This endpoint pages with cursors: pass `cursor`, not `offset`.")
                if "ordering" in params:
                    raise BadQueryParameter("ordering", "Cursor pages are ordered by primary key; drop `ordering`.")
                after = decode_cursor(cursor, cursor_key) if cursor is not None else None
                queryset = self._filtered(request).order_by(pk_name)
                if after is not None:
                    queryset = queryset.filter(**{f"{pk_name}__gt": after})
                items = await self.read_rows(queryset[: limit + 1])
                following = encode_cursor(items[limit - 1][pk_name]) if len(items) > limit else None
                return Response(
                    dumps({"items": items[:limit], "next": following, "limit": limit}), media_type="application/json"
                )
            if "cursor" in params:
                raise BadQueryParameter("cursor", "This endpoint pages with `limit` and `offset`, not cursors.")
            queryset = self._filtered(request)
            items = await self.read_rows(queryset[offset : offset + limit])
            total = await _total(queryset, items, limit, offset)
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
            return Response(dumps(await self.read_one(request, pk)), media_type="application/json")

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
            values = body.model_dump()  # type: ignore[attr-defined]
            # The db layer decides how: one INSERT ... RETURNING, or the model's own save() when it overrides it.
            pk = (await self.model.objects.create(**values)).pk  # type: ignore[attr-defined]
            row = await self.read_one(request, pk)
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
            queryset = self.queryset(request).filter(pk=pk)
            changed = await queryset.update(**data) if data else int(await queryset.exists())
            if not changed:
                raise ProblemError(404, f"{self.model.__name__} {pk} does not exist.", title="Not found")
            return Response(dumps(await self.read_one(request, pk)), media_type="application/json")

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
            if not await self.queryset(request).filter(pk=pk).delete():
                raise ProblemError(404, f"{self.model.__name__} {pk} does not exist.", title="Not found")
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


async def _total(queryset: QuerySet[Any], items: list[Any], limit: int, offset: int) -> int:
    """The row count of an offset page: known from the page itself when it is not full (and not past the end),
    else counted by the database (a COUNT over the filtered rows: see docs/api.md)."""
    if len(items) < limit and (items or offset == 0):
        return offset + len(items)
    return await queryset.count()
