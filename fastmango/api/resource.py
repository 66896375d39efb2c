"""``ModelResource``: a model's API declared once, for every surface that reads or writes its rows.

The base QuerySet is a function of the *caller* (the user, plus the HTTP request when there is one; AI tools and
tasks have none), so row scoping holds on every surface; the permission policy, the filter/search/ordering fields,
the schemas and ``select_related`` live here too. ``CRUDRouter(resource)`` serves it over HTTP and
``expose_model(resource)`` as AI tools (passing a model to either builds a default resource)::

    async def visible_posts(caller: Caller) -> QuerySet[Post]:
        if caller.user is not None and await caller.user.has_perm("post.view"):
            return Post.objects.all()
        return Post.objects.filter(published=True)  # drafts stay hidden from everyone else

    posts = ModelResource(Post, queryset=visible_posts, permissions="writes", filter_fields=["published"])
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from fastmango.api.caller import Caller, Surface
from fastmango.api.filters import DEFAULT_MAX_SEARCH_LENGTH, FilterSpec, check_relations
from fastmango.api.history import created, deleted, history, updated
from fastmango.api.labels import label_field, object_label
from fastmango.api.links import is_many_to_many, set_links
from fastmango.api.rows import row_builder
from fastmango.api.schemas import schema_for
from fastmango.auth.permissions import codename
from fastmango.auth.policies import Policy, PolicySpec, authorize, policy_for
from fastmango.core.declarations import DeclarationError, did_you_mean, report, use_instead
from fastmango.core.errors import ProblemError
from fastmango.db.compiler import model_info
from fastmango.db.errors import FieldError
from fastmango.db.query import QuerySet
from fastmango.db.session import transaction

__all__ = [
    "ACTIONS",
    "Action",
    "BaseQuerySet",
    "Caller",
    "ModelResource",
    "Surface",
    "check_actions",
    "page_total",
    "resource_of",
]

M = TypeVar("M")
A = TypeVar("A", bound=str)
Action = Literal["list", "get", "create", "update", "replace", "delete"]
ACTIONS: tuple[Action, ...] = ("list", "get", "create", "update", "replace", "delete")
PermissionPolicy = PolicySpec | Policy  # True | False | "writes" | callable(user, action) (may be async) | a Policy
Hook = Callable[["Caller", dict[str, Any]], Any]


BaseQuerySet = QuerySet[Any] | Callable[[Caller], QuerySet[Any]] | Callable[[Caller], Awaitable[QuerySet[Any]]] | None


class ModelResource(Generic[M]):
    """One model's rows as every surface sees them.

    Args:
        model: A table model.
        queryset: The base QuerySet, or a function of the :class:`Caller` returning one (may be async): the rows
            this caller may see at all. Every read, update and delete starts from it.
        permissions: True: ``<table>.view/add/change/delete`` (anonymous callers are refused as unauthenticated);
            False: open; ``"writes"``: reads open, writes need the permission; or ``callable(user, action)``.
        filter_fields / search_fields / ordering_fields: What callers may filter, search and order by.
        select_related: To-one relations loaded with one JOIN and nested in rows.
        read_schema / create_schema / update_schema: Pydantic models; derived with :func:`schema_for` when None.
        before_create / before_update: ``hook(caller, values)`` (sync or async) that may change the values (a
            dict) before they are written; raise a ProblemError to refuse.
        name: The resource's name (the table name by default): tool names and operation ids start with it.
    """

    def __init__(
        self,
        model: type[M],
        *,
        queryset: BaseQuerySet = None,
        permissions: PermissionPolicy = True,
        filter_fields: Sequence[str] = (),
        search_fields: Sequence[str] = (),
        ordering_fields: Sequence[str] = (),
        select_related: Sequence[str] = (),
        read_schema: type[BaseModel] | None = None,
        create_schema: type[BaseModel] | None = None,
        update_schema: type[BaseModel] | None = None,
        before_create: Hook | None = None,
        before_update: Hook | None = None,
        name: str | None = None,
    ) -> None:
        self.model = model
        self.info = model_info(model)
        self.table: str = model.__tablename__  # type: ignore[attr-defined]
        self.name = name or self.table
        self.select_related = tuple(check_relations(model, select_related))
        self.filters = FilterSpec(
            model, filter_fields=filter_fields, search_fields=search_fields, ordering_fields=ordering_fields
        )
        self.read_schema = read_schema or schema_for(model, "read", relations=self.select_related)
        self.create_schema = create_schema or schema_for(model, "create")
        self.update_schema = update_schema or schema_for(model, "update")
        self.permissions = permissions
        self.policy: Policy = policy_for(permissions, self.table)  # the one permission decision (fastmango.auth)
        self.before_create, self.before_update = before_create, before_update
        self._queryset = queryset
        self._plan_reads()

    def __repr__(self) -> str:
        return f"<ModelResource {self.name}>"

    # -- rows -------------------------------------------------------------------------------------
    def _plan_reads(self) -> None:
        """Which columns a read selects for the read schema (rows, not instances, when the schema allows)."""
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

    @property
    def scoped(self) -> bool:
        """Whether a base QuerySet narrows the rows (then who may see a row depends on the caller)."""
        return self._queryset is not None

    async def queryset(self, caller: Caller) -> QuerySet[Any]:
        """The rows ``caller`` may see at all: the base QuerySet of every operation."""
        base = self._queryset
        if base is None:
            return QuerySet(self.model)
        if isinstance(base, QuerySet):
            return base
        found: Any = base(caller)
        if not isinstance(found, QuerySet):  # a QuerySet is awaitable too (awaiting runs it): await coroutines only
            found = await found
        if not isinstance(found, QuerySet):
            raise TypeError(f"the base queryset of {self!r} returned {type(found).__name__}, not a QuerySet")
        return found

    async def rows(self, queryset: QuerySet[Any]) -> list[dict[str, Any]]:
        """The rows of ``queryset`` shaped as the read schema (JSON-ready dicts)."""
        if self.rows_fast_path:
            found = await queryset.values_list(*self.paths)
            return [self.build(row) for row in found]
        objects = await queryset.select_related(*self.select_related)
        return [self.read_schema.model_validate(obj).model_dump(mode="json") for obj in objects]

    def filtered(
        self,
        queryset: QuerySet[Any],
        params: Mapping[str, str] | Iterable[tuple[str, str]],
        *,
        max_search_length: int = DEFAULT_MAX_SEARCH_LENGTH,
    ) -> QuerySet[Any]:
        """``queryset`` narrowed by filter, ``search`` and ``ordering`` parameters (a 400 problem for bad ones)."""
        return self.filters.apply(queryset, params, max_search_length=max_search_length)

    # -- permissions ------------------------------------------------------------------------------
    def guarded(self, action: Action) -> bool:
        """Whether ``action`` needs a permission at all under this resource's policy."""
        return self.policy.guarded(action)

    def required(self, action: Action) -> tuple[str, ...]:
        """The permissions ``action`` needs by name (none for a callable policy, which decides by itself)."""
        return tuple(self.policy.required(action))

    def codename(self, action: Action) -> str:
        """The model permission of ``action``: ``<table>.view/add/change/delete``."""
        return codename(self.table, action)

    async def allowed(self, caller: Caller, action: Action) -> bool:
        """Whether ``caller`` may ``action`` this resource's rows (row scoping aside)."""
        return not self.policy.guarded(action) or await self.policy.allows(caller.user, action)

    async def authorize(self, caller: Caller, action: Action) -> None:
        """Refuse ``action`` unless allowed: 401 for an anonymous caller, 403 for a user without the permission."""
        await authorize(self.policy, caller.user, action)

    # -- operations -------------------------------------------------------------------------------
    def not_found(self, pk: Any) -> ProblemError:
        return ProblemError(404, f"{self.model.__name__} {pk} does not exist.", title="Not found")

    async def list(
        self,
        caller: Caller,
        params: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        *,
        limit: int = 20,
        offset: int = 0,
        max_search_length: int = DEFAULT_MAX_SEARCH_LENGTH,
    ) -> dict[str, Any]:
        """An offset page of the rows ``caller`` may see, filtered by ``params``: ``{items, total}``."""
        await self.authorize(caller, "list")
        queryset = self.filtered(await self.queryset(caller), params, max_search_length=max_search_length)
        items = await self.rows(queryset[offset : offset + limit])
        return {"items": items, "total": await page_total(queryset, items, limit, offset)}

    async def get(self, caller: Caller, pk: Any) -> dict[str, Any]:
        """One row by primary key (a 404 problem when ``caller`` cannot see it)."""
        await self.authorize(caller, "get")
        return await self.read_one(caller, pk)

    async def read_one(self, caller: Caller, pk: Any) -> dict[str, Any]:
        """One row of the caller's rows, without a permission check (after a write, or once checked)."""
        found = await self.rows((await self.queryset(caller)).filter(pk=pk)[:1])
        if not found:
            raise self.not_found(pk)
        return found[0]

    async def create(
        self, caller: Caller, values: dict[str, Any], *, relations: Mapping[str, Sequence[Any]] | None = None
    ) -> dict[str, Any]:
        """Create a row from validated ``values`` (the model's ``save()`` runs); the row as the caller reads it.

        The row, its many-to-many ``relations`` (``{"tags": [1, 2]}``) and its history entry are written in one
        transaction.
        """
        await self.authorize(caller, "create")
        values = await _run_hook(self.before_create, caller, values)
        obj: Any
        if not relations and not history.enabled:  # the INSERT alone: no transaction to open around it
            obj = await QuerySet(self.model).create(**values)
            return await self._created(caller, obj.pk)
        async with transaction():
            obj = await QuerySet(self.model).create(**values)
            changes = created(self.model, obj)
            changes.update(await self._link(obj.pk, relations))
            await history.record(caller, self.model, "create", obj.pk, changes, label=object_label(self.model, obj))
        return await self._created(caller, obj.pk)

    async def _created(self, caller: Caller, pk: Any) -> dict[str, Any]:
        """The row just created, as the caller reads it; when it falls outside the caller's rows (a user who may add
        posts but sees only published ones creates a draft) the row as written, not a 404 for a write that happened."""
        found = await self.rows((await self.queryset(caller)).filter(pk=pk)[:1])
        if not found:
            found = await self.rows(QuerySet(self.model).filter(pk=pk)[:1])
        return found[0]

    async def update(
        self,
        caller: Caller,
        pk: Any,
        values: dict[str, Any],
        *,
        action: Action = "update",
        relations: Mapping[str, Sequence[Any]] | None = None,
    ) -> Any:
        """Change fields (and many-to-many ``relations``) of one of the caller's rows; the row after the change (a
        404 problem when unseen). The change and its history entry are written in one transaction."""
        await self.authorize(caller, action)
        values = await _run_hook(self.before_update, caller, values)
        async with transaction():
            queryset = (await self.queryset(caller)).filter(pk=pk)
            shown = label_field(self.model)
            fields = dict.fromkeys([self.info.pk_name, *values, *([shown] if shown else [])])
            found = await queryset.values(*fields)[:1]
            if not found:
                raise self.not_found(pk)
            if values:
                await queryset.update(**values)
            changes = updated(found[0], values)
            changes.update(await self._link(pk, relations))
            if changes:
                label = object_label(self.model, {**found[0], **values})
                await history.record(caller, self.model, "update", pk, changes, label=label)
        return await self.read_one(caller, pk)

    async def delete(self, caller: Caller, pk: Any) -> None:
        """Delete one of the caller's rows (a 404 problem when unseen), with its history entry, in one
        transaction."""
        await self.authorize(caller, "delete")
        async with transaction():
            queryset = (await self.queryset(caller)).filter(pk=pk)
            found = await queryset.values()[:1]
            if not found or not await queryset.delete():
                raise self.not_found(pk)
            row = found[0]
            await history.record(
                caller, self.model, "delete", pk, deleted(self.model, row), label=object_label(self.model, row)
            )

    async def _link(self, pk: Any, relations: Mapping[str, Sequence[Any]] | None) -> dict[str, Any]:
        """Set the many-to-many ``relations`` of row ``pk``; the changes, as ``{relation: [old keys, new keys]}``."""
        changes: dict[str, Any] = {}
        for name, targets in (relations or {}).items():
            if not is_many_to_many(self.model, name):
                raise FieldError(f"{self.model.__name__}.{name} is not a many-to-many relation")
            before = await set_links(self.model, name, pk, targets)
            if before is not None:
                changes[name] = [before, list(dict.fromkeys(targets))]
        return changes


def resource_of(model_or_resource: Any, **options: Any) -> ModelResource[Any]:
    """``model_or_resource`` itself when it is a resource (then ``options`` must be empty), else a default one."""
    if isinstance(model_or_resource, ModelResource):
        given = [name for name, value in options.items() if value not in (None, (), [])]
        if given:
            raise TypeError(
                f"{', '.join(sorted(given))} belong to the ModelResource {model_or_resource.name!r}: declare them "
                "there, once, not again on the router or the tools"
            )
        return model_or_resource
    return ModelResource(model_or_resource, **{k: v for k, v in options.items() if v is not None})


def check_actions(actions: Iterable[A], declaration: str, check_id: str, known: Sequence[str] = ACTIONS) -> list[A]:
    """The ``actions`` a router or tools declare that are among ``known``.

    Raises:
        DeclarationError: one is not (a typo such as ``"lsit"``), naming the declaration, the close match and the
            actions (left out of the result while ``fastmango check`` collects the errors).
    """
    valid = []
    for action in actions:
        if action in known:
            valid.append(action)
            continue
        close = did_you_mean(action, known)
        message = f"{declaration}: no action {action!r}{close}; the actions are: {', '.join(known)}"
        report(DeclarationError(message, id=check_id, hint=use_instead(action, known, "action"), obj=declaration))
    return valid


async def page_total(queryset: QuerySet[Any], items: list[Any], limit: int, offset: int) -> int:
    """The row count of an offset page: known from the page itself when it is not full (and not past the end),
    else counted by the database (a COUNT over the filtered rows: see docs/api.md)."""
    if len(items) < limit and (items or offset == 0):
        return offset + len(items)
    return await queryset.count()


async def _run_hook(hook: Hook | None, caller: Caller, values: dict[str, Any]) -> dict[str, Any]:
    if hook is None:
        return values
    result = hook(caller, dict(values))
    if inspect.isawaitable(result):
        result = await result
    return values if result is None else dict(result)
