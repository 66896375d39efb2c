"""``QuerySet``: an immutable, lazy description of a query; awaiting it runs it.

Every chained call returns a copy, so a saved base QuerySet never changes under you. Terminal calls
(``await qs``, ``get``, ``count``, ``update``...) use the session of the enclosing ``transaction()`` or a
short autocommit session of their own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Generator, Iterable, Sequence
from typing import Any, Generic, TypeVar, overload

from sqlalchemy import delete, update

from fastmango.db import execute, plans
from fastmango.db.bulk import bulk_insert
from fastmango.db.compiler import Compiler, Slots, bind_params, model_info
from fastmango.db.errors import FieldError, IntegrityError
from fastmango.db.expressions import Aggregate, Q
from fastmango.db.plans import Result
from fastmango.db.session import transaction

M = TypeVar("M")  # what the QuerySet yields: model instances, or dicts / tuples / values after values()


@dataclasses.dataclass(frozen=True)
class QueryState:
    """Everything a QuerySet describes. Immutable; QuerySet methods make changed copies."""

    model: type[Any]
    where: tuple[Q, ...] = ()
    order_by: tuple[str, ...] = ()
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    annotations: dict[str, Any] = dataclasses.field(default_factory=dict)
    distinct: bool = False
    limit: int | None = None
    offset: int = 0
    empty: bool = False


class QuerySet(Generic[M]):
    """A query over ``model``. Build it with chained calls; ``await`` it (or a terminal method) to run it.

    ``values()`` and ``values_list()`` give the same QuerySet with another result shape (dicts, tuples or single
    values): every chaining and terminal method works on each shape.
    """

    def __init__(self, model: type[Any], state: QueryState | None = None, result: Result | None = None) -> None:
        self.model = model
        self._state = state or QueryState(model=model)
        self._result = result or _INSTANCES

    def _chain(self, **changes: Any) -> QuerySet[M]:
        # A copy of the frozen state with ``changes`` (dataclasses.replace re-reads the fields per call: slower).
        state = object.__new__(QueryState)
        state.__dict__.update(self._state.__dict__, **changes)
        return type(self)(self.model, state, self._result)

    def _shaped(self, result: Result) -> QuerySet[Any]:
        return type(self)(self.model, self._state, result)

    def __repr__(self) -> str:
        return f"<QuerySet {self.model.__name__} {self._state}>"

    # -- chaining ----------------------------------------------------------------------------------
    def all(self) -> QuerySet[M]:
        """A copy of this QuerySet."""
        return self._chain()

    def none(self) -> QuerySet[M]:
        """A QuerySet that matches nothing and runs no SQL."""
        return self._chain(empty=True)

    def filter(self, *conditions: Q, **lookups: Any) -> QuerySet[M]:
        """Rows matching all conditions: ``filter(Q(a=1) | Q(b=2), author__name__icontains="x")``."""
        return self._chain(where=(*self._state.where, Q(*conditions, **lookups)))

    def exclude(self, *conditions: Q, **lookups: Any) -> QuerySet[M]:
        """Rows not matching the conditions (rows where a compared column is NULL are kept, as in Django)."""
        if not conditions and not lookups:
            return self._chain()
        return self._chain(where=(*self._state.where, ~Q(*conditions, **lookups)))

    def order_by(self, *fields: str) -> QuerySet[M]:
        """Order by fields, ``-field`` for descending, ``relation__field`` across relations. No fields: unordered."""
        return self._chain(order_by=fields)

    def reverse(self) -> QuerySet[M]:
        """The same rows in the opposite order (by primary key when unordered)."""
        if self._state.limit is not None or self._state.offset:
            raise FieldError("reverse() and last() cannot run on a sliced QuerySet; order it the other way first")
        return self._chain(order_by=_reversed(self._state.order_by or (model_info(self.model).pk_name,)))

    def select_related(self, *paths: str) -> QuerySet[M]:
        """Load to-one relations (and theirs: ``author__publisher``) in the same query with a JOIN."""
        return self._chain(select_related=(*self._state.select_related, *paths))

    def prefetch_related(self, *paths: str) -> QuerySet[M]:
        """Load relations of any kind (reverse FK, many-to-many) with one extra query per relation."""
        return self._chain(prefetch_related=(*self._state.prefetch_related, *paths))

    def only(self, *fields: str) -> QuerySet[M]:
        """Load only these columns (and the primary key); reading another raises ``FieldNotLoaded``."""
        return self._chain(only=fields)

    def distinct(self) -> QuerySet[M]:
        """Remove duplicate rows (useful after ordering across a to-many relation)."""
        return self._chain(distinct=True)

    def annotate(self, **expressions: Any) -> QuerySet[M]:
        """Add computed values: ``annotate(n_books=Count("books"))``; readable as attributes, usable in
        ``filter``/``order_by``/``values``."""
        for name in expressions:
            if name in model_info(self.model).columns or name in model_info(self.model).relations:
                raise FieldError(f"annotation {name!r} clashes with a field of {self.model.__name__}; rename it")
        return self._chain(annotations={**self._state.annotations, **expressions})

    def values(self, *fields: str) -> QuerySet[dict[str, Any]]:
        """Rows as dicts of the named fields (all columns and annotations when none are named), without building
        models."""
        return self._shaped(Result(plans.DICTS, fields))

    def values_list(self, *fields: str, flat: bool = False) -> QuerySet[Any]:
        """Rows as tuples, or as single values with ``flat=True`` (one field only)."""
        if flat and len(fields) != 1:
            raise FieldError("values_list(flat=True) takes exactly one field")
        return self._shaped(Result(plans.FLAT if flat else plans.TUPLES, fields))

    @overload
    def __getitem__(self, key: slice) -> QuerySet[M]: ...

    @overload
    def __getitem__(self, key: int) -> Any: ...

    def __getitem__(self, key: int | slice) -> Any:
        """``qs[10:20]`` is LIMIT 10 OFFSET 10; ``await qs[0]`` fetches one row (``IndexError`` if absent)."""
        if isinstance(key, slice):
            if (key.start or 0) < 0 or (key.stop or 0) < 0 or key.step not in (None, 1):
                raise ValueError("QuerySet slices take non-negative bounds and no step")
            start = self._state.offset + (key.start or 0)
            stop = None if key.stop is None else self._state.offset + key.stop
            if self._state.limit is not None:
                end = self._state.offset + self._state.limit
                stop = end if stop is None else min(stop, end)
            limit = None if stop is None else max(stop - start, 0)
            return self._chain(offset=start, limit=limit)
        if not isinstance(key, int) or key < 0:
            raise TypeError("QuerySet indices are non-negative integers")
        return self._item(key)

    async def _item(self, index: int) -> M:
        rows = await self[index : index + 1]
        if not rows:
            raise IndexError(f"{self.model.__name__} QuerySet has no row at index {index}")
        return rows[0]

    # -- evaluation --------------------------------------------------------------------------------
    def __await__(self) -> Generator[Any, None, list[M]]:
        return self._fetch().__await__()

    async def __aiter__(self) -> AsyncIterator[M]:
        for obj in await self._fetch():
            yield obj

    async def _fetch(self) -> list[M]:
        if self._state.empty or self._state.limit == 0:
            return []
        result = self._result
        plan, values = execute.plan(self._state, result)
        if result.kind == plans.INSTANCES:
            return await execute.instances(plan, values)
        return _shape_rows(await execute.rows(plan, values), result, plan)

    async def iterator(self, chunk_size: int = 2000) -> AsyncIterator[M]:
        """Stream rows in chunks of ``chunk_size`` (a server-side cursor on PostgreSQL), not all at once."""
        if self._state.empty or self._state.limit == 0:
            return
        plan, values = execute.plan(self._state, self._result)
        async for chunk in execute.stream(plan, values, chunk_size):
            for item in chunk if self._result.kind == plans.INSTANCES else _shape_rows(chunk, self._result, plan):
                yield item

    async def get(self, *conditions: Q, **lookups: Any) -> M:
        """The one row matching the conditions.

        Raises:
            Model.DoesNotExist: no row matches.
            Model.MultipleObjectsReturned: more than one row matches.
        """
        queryset = self.filter(*conditions, **lookups) if conditions or lookups else self
        rows = await queryset._chain(limit=2, offset=queryset._state.offset)
        if not rows:
            raise self.model.DoesNotExist(
                f"{self.model.__name__} matching {_describe(conditions, lookups)} does not exist"
            )
        if len(rows) > 1:
            raise self.model.MultipleObjectsReturned(
                f"more than one {self.model.__name__} matches {_describe(conditions, lookups)}"
            )
        return rows[0]

    async def first(self) -> M | None:
        """The first row (by primary key when unordered), or None."""
        queryset = self if self._state.order_by else self.order_by(model_info(self.model).pk_name)
        rows = await queryset[:1]
        return rows[0] if rows else None

    async def last(self) -> M | None:
        """The last row (by primary key when unordered), or None."""
        rows = await self.reverse()[:1]
        return rows[0] if rows else None

    async def count(self) -> int:
        """The number of rows, counted by the database."""
        if self._state.empty:
            return 0
        plan, values = execute.plan(self._state, _COUNT)
        return int((await execute.rows(plan, values))[0][0])

    async def exists(self) -> bool:
        """Whether any row matches (``SELECT 1 ... LIMIT 1``)."""
        if self._state.empty or self._state.limit == 0:
            return False
        plan, values = execute.plan(self._state, _EXISTS)
        return bool(await execute.rows(plan, values))

    async def aggregate(self, **aggregates: Aggregate) -> dict[str, Any]:
        """Aggregate over the rows: ``await qs.aggregate(total=Sum("price"))`` -> ``{"total": ...}``."""
        if not aggregates:
            raise FieldError("aggregate() needs at least one aggregate, e.g. aggregate(total=Sum('price'))")
        for name, value in aggregates.items():
            if not isinstance(value, Aggregate):
                raise FieldError(f"aggregate({name}=...) takes Count, Sum, Avg, Min or Max, got {value!r}")
        if self._state.empty:
            return {name: 0 if agg.function == "count" else None for name, agg in aggregates.items()}
        plan, values = execute.plan(self._state, _AGGREGATE, aggregates)
        row = (await execute.rows(plan, values))[0]
        return dict(zip(aggregates, row, strict=True))

    async def in_bulk(self, id_list: Iterable[Any] | None = None, *, field_name: str = "pk") -> dict[Any, M]:
        """Rows keyed by ``field_name`` (the primary key by default), optionally only those in ``id_list``."""
        info = model_info(self.model)
        name = info.pk_name if field_name == "pk" else field_name
        queryset = self if id_list is None else self.filter(**{f"{name}__in": list(id_list)})
        kind, fields = self._result.kind, self._result.fields
        if kind == plans.INSTANCES:
            return {getattr(obj, name): obj for obj in await queryset}
        names = fields or (*info.mapper.column_attrs.keys(), *self._state.annotations)
        if name not in names:
            raise FieldError(f"in_bulk(field_name={field_name!r}) on values(): include {name!r} in the fields")
        found: list[Any] = await queryset
        if kind == plans.DICTS:
            return {row[name]: row for row in found}
        if kind == plans.FLAT:
            return {value: value for value in found}
        position = names.index(name)
        return {row[position]: row for row in found}

    # -- writes ------------------------------------------------------------------------------------
    async def create(self, **fields: Any) -> Any:
        """Insert one row and return it (a model instance) with its primary key. A ``save()`` the model overrides
        runs; otherwise one ``INSERT ... RETURNING``."""
        obj = self.model(**fields)
        await obj.save()
        return obj

    async def bulk_create(self, objs: Sequence[M], *, batch_size: int = 1000) -> list[M]:
        """Insert many rows atomically, ``batch_size`` rows per statement; primary keys are set on ``objs``."""
        objs = list(objs)
        if not objs:
            return objs
        info = model_info(self.model)
        if any(getattr(obj, info.pk_name) is not None for obj in objs) or len(info.mapper.primary_key) != 1:
            async with transaction():  # explicit keys: let the ORM flush them, all or nothing
                for start in range(0, len(objs), batch_size):
                    await execute.flush(objs[start : start + batch_size], atomic=False)
            return objs
        await bulk_insert(self.model, objs, batch_size)
        return objs

    async def get_or_create(self, defaults: dict[str, Any] | None = None, **lookups: Any) -> tuple[M, bool]:
        """The row matching ``lookups``, or a new one made from ``lookups`` and ``defaults``: ``(obj, created)``.

        Safe under concurrency: when another writer inserts the same unique row first, its row is returned.
        """
        try:
            return await self.get(**lookups), False
        except self.model.DoesNotExist:
            pass
        fields = {k: v for k, v in lookups.items() if "__" not in k} | (defaults or {})
        try:
            async with transaction():
                return await self.create(**fields), True
        except IntegrityError:
            try:
                return await self.get(**lookups), False
            except self.model.DoesNotExist:
                raise

    async def update_or_create(self, defaults: dict[str, Any] | None = None, **lookups: Any) -> tuple[M, bool]:
        """Update the row matching ``lookups`` with ``defaults``, or create it: ``(obj, created)``."""
        async with transaction():
            obj: Any
            obj, created = await self.get_or_create(defaults, **lookups)
            if not created and defaults:
                for name, value in defaults.items():
                    setattr(obj, name, value)
                await obj.save()
        return obj, created

    async def update(self, **fields: Any) -> int:
        """Update matching rows in one statement (``F`` expressions allowed); returns the rows changed."""
        self._check_writable("update")
        if self._state.empty or not fields:
            return 0
        compiler, values = self._write_compiler()
        info = model_info(self.model)
        changes = {}
        for name, value in fields.items():
            if name not in info.columns:
                raise compiler.unknown(info, name, name)
            changes[name] = compiler.value(value)
        statement = update(self.model).where(*compiler.write_where()).values(changes)
        return await execute.write(statement, bind_params(compiler.slots.params, values))

    async def delete(self) -> int:
        """Delete matching rows in one statement; returns the rows deleted."""
        self._check_writable("delete")
        if self._state.empty:
            return 0
        compiler, values = self._write_compiler()
        statement = delete(self.model).where(*compiler.write_where())
        return await execute.write(statement, bind_params(compiler.slots.params, values))

    def _write_compiler(self) -> tuple[Compiler, list[Any]]:
        """A compiler for an UPDATE or DELETE over the rows (not cached: writes build their statement per call)."""
        _, values = plans.shape_of(self._state, _COUNT)
        return Compiler(self._state, Slots(values)), values

    def _check_writable(self, operation: str) -> None:
        if self._state.limit is not None or self._state.offset or self._state.distinct:
            raise FieldError(f"{operation}() cannot run on a sliced or distinct QuerySet; filter by pk instead")


ValuesQuerySet = QuerySet  # values() and values_list() return QuerySets; the old name stays importable
_INSTANCES = Result(plans.INSTANCES)
_COUNT = Result(plans.COUNT)
_EXISTS = Result(plans.EXISTS)
_AGGREGATE = Result(plans.AGGREGATE)


def _shape_rows(found: Sequence[Any], result: Result, plan: Any) -> list[Any]:
    """Rows as the result shape asks: dicts, tuples or single values."""
    if result.kind == plans.FLAT:
        return [row[0] for row in found]
    if result.kind == plans.TUPLES:
        return [tuple(row) for row in found]
    names = plan.columns
    return [dict(zip(names, row, strict=True)) for row in found]


def _reversed(order: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(item[1:] if item.startswith("-") else f"-{item}" for item in order)


def _describe(conditions: tuple[Q, ...], lookups: dict[str, Any]) -> str:
    parts = [repr(c) for c in conditions] + [f"{k}={v!r}" for k, v in lookups.items()]
    return ", ".join(parts) or "the query"
