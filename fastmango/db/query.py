"""``QuerySet``: an immutable, lazy description of a query; awaiting it runs it.

Every chained call returns a copy, so a saved base QuerySet never changes under you. Terminal calls
(``await qs``, ``get``, ``count``, ``update``...) use the session of the enclosing ``transaction()`` or a
short autocommit session of their own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from sqlalchemy import Row, delete, update

from fastmango.db.bulk import bulk_insert
from fastmango.db.compiler import Compiler, model_info
from fastmango.db.engine import get_database
from fastmango.db.errors import FieldError, IntegrityError
from fastmango.db.expressions import Aggregate, Q
from fastmango.db.session import current_session, fetch_rows, in_transaction, session_scope, transaction

if TYPE_CHECKING:
    from fastmango.db.models import Model

M = TypeVar("M", bound="Model")


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
    """A query over ``model``. Build it with chained calls; ``await`` it (or a terminal method) to run it."""

    def __init__(self, model: type[M], state: QueryState | None = None) -> None:
        self.model = model
        self._state = state or QueryState(model=model)

    def _chain(self, **changes: Any) -> QuerySet[M]:
        return type(self)(self.model, dataclasses.replace(self._state, **changes))

    def _compiler(self) -> Compiler:
        return Compiler(self._state)

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

    def values(self, *fields: str) -> ValuesQuerySet:
        """Rows as dicts of the named fields (all columns when none are named), without building models."""
        return ValuesQuerySet(self._state, fields, mode="dict")

    def values_list(self, *fields: str, flat: bool = False) -> ValuesQuerySet:
        """Rows as tuples, or as single values with ``flat=True`` (one field only)."""
        if flat and len(fields) != 1:
            raise FieldError("values_list(flat=True) takes exactly one field")
        return ValuesQuerySet(self._state, fields, mode="flat" if flat else "tuple")

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
        compiler = self._compiler()
        statement = compiler.select_instances()
        async with session_scope() as session:
            result = await session.execute(statement)
            if not compiler.annotations:
                return list(result.scalars().all())
            return _with_annotations(result.all(), list(compiler.annotations))

    async def iterator(self, chunk_size: int = 2000) -> AsyncIterator[M]:
        """Stream rows in chunks of ``chunk_size`` (a server-side cursor on PostgreSQL), not all at once."""
        if self._state.empty:
            return
        compiler = self._compiler()
        statement = compiler.select_instances().execution_options(yield_per=chunk_size)
        names = list(compiler.annotations)
        bound = current_session()
        if bound is not None:  # inside transaction(): stream in it
            result = await bound.stream(statement)
            async for partition in result.partitions(chunk_size):
                for obj in _with_annotations(partition, names):
                    yield obj
            return
        # A session of its own, not bound to the caller's context: an async generator's code runs in the
        # consumer's context, so binding a transaction here would capture the consumer's writes.
        async with get_database().sessions() as session, session.begin():
            result = await session.stream(statement)
            async for partition in result.partitions(chunk_size):
                objects = _with_annotations(partition, names)
                for obj in objects:
                    session.expunge(obj)  # detached, like every other query's rows: save() works on them
                for obj in objects:
                    yield obj

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
        rows = await fetch_rows(self._compiler().count())
        return int(rows[0][0])

    async def exists(self) -> bool:
        """Whether any row matches (``SELECT 1 ... LIMIT 1``)."""
        if self._state.empty or self._state.limit == 0:
            return False
        return bool(await fetch_rows(self._compiler().exists()))

    async def aggregate(self, **aggregates: Aggregate) -> dict[str, Any]:
        """Aggregate over the rows: ``await qs.aggregate(total=Sum("price"))`` -> ``{"total": ...}``."""
        if not aggregates:
            raise FieldError("aggregate() needs at least one aggregate, e.g. aggregate(total=Sum('price'))")
        for name, value in aggregates.items():
            if not isinstance(value, Aggregate):
                raise FieldError(f"aggregate({name}=...) takes Count, Sum, Avg, Min or Max, got {value!r}")
        if self._state.empty:
            return {name: 0 if agg.function == "count" else None for name, agg in aggregates.items()}
        async with session_scope() as session:
            row = (await session.execute(self._compiler().aggregate(aggregates))).one()
        return dict(row._mapping)

    async def in_bulk(self, id_list: Iterable[Any] | None = None, *, field_name: str = "pk") -> dict[Any, M]:
        """Rows keyed by ``field_name`` (the primary key by default), optionally only those in ``id_list``."""
        info = model_info(self.model)
        name = info.pk_name if field_name == "pk" else field_name
        queryset = self if id_list is None else self.filter(**{f"{name}__in": list(id_list)})
        return {getattr(obj, name): obj for obj in await queryset}

    # -- writes ------------------------------------------------------------------------------------
    async def create(self, **fields: Any) -> M:
        """Insert one row and return it with its primary key."""
        obj = self.model(**fields)
        await obj.save()
        return obj

    async def bulk_create(self, objs: Sequence[M], *, batch_size: int = 1000) -> list[M]:
        """Insert many rows atomically, ``batch_size`` rows per statement; primary keys are set on ``objs``."""
        objs = list(objs)
        if not objs:
            return objs
        info = model_info(self.model)
        if any(obj.pk is not None for obj in objs) or len(info.mapper.primary_key) != 1:
            async with session_scope(atomic=True) as session:  # explicit keys: let the ORM flush them
                for start in range(0, len(objs), batch_size):
                    session.add_all(objs[start : start + batch_size])
                    await session.flush()
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
        compiler = self._compiler()
        info = model_info(self.model)
        values = {}
        for name, value in fields.items():
            if name not in info.columns:
                raise compiler.unknown(info, name, name)
            values[name] = compiler.value(value)
        statement = update(self.model).where(*compiler.write_where()).values(values)
        async with session_scope(write=True) as session:
            result = await session.execute(statement, execution_options=_synchronize())
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def delete(self) -> int:
        """Delete matching rows in one statement; returns the rows deleted."""
        self._check_writable("delete")
        if self._state.empty:
            return 0
        compiler = self._compiler()
        statement = delete(self.model).where(*compiler.write_where())
        async with session_scope(write=True) as session:
            result = await session.execute(statement, execution_options=_synchronize())
        return int(result.rowcount)  # type: ignore[attr-defined]

    def _check_writable(self, operation: str) -> None:
        if self._state.limit is not None or self._state.offset or self._state.distinct:
            raise FieldError(f"{operation}() cannot run on a sliced or distinct QuerySet; filter by pk instead")


class ValuesQuerySet:
    """The result of ``values()`` / ``values_list()``: rows as dicts, tuples or single values."""

    def __init__(self, state: QueryState, fields: tuple[str, ...], mode: str) -> None:
        self._state = state
        self._fields = fields
        self._mode = mode

    def __await__(self) -> Generator[Any, None, list[Any]]:
        return self._fetch().__await__()

    async def __aiter__(self) -> AsyncIterator[Any]:
        for row in await self._fetch():
            yield row

    def __getitem__(self, key: slice) -> ValuesQuerySet:
        sliced = QuerySet(self._state.model, self._state)[key]
        return ValuesQuerySet(sliced._state, self._fields, self._mode)

    def filter(self, *conditions: Q, **lookups: Any) -> ValuesQuerySet:
        """Rows matching the conditions (see ``QuerySet.filter``)."""
        where = (*self._state.where, Q(*conditions, **lookups))
        return ValuesQuerySet(dataclasses.replace(self._state, where=where), self._fields, self._mode)

    def exclude(self, *conditions: Q, **lookups: Any) -> ValuesQuerySet:
        """Rows not matching the conditions (see ``QuerySet.exclude``)."""
        where = (*self._state.where, ~Q(*conditions, **lookups))
        return ValuesQuerySet(dataclasses.replace(self._state, where=where), self._fields, self._mode)

    def order_by(self, *fields: str) -> ValuesQuerySet:
        """Order the rows (see ``QuerySet.order_by``)."""
        return ValuesQuerySet(dataclasses.replace(self._state, order_by=fields), self._fields, self._mode)

    def distinct(self) -> ValuesQuerySet:
        """Remove duplicate rows."""
        return ValuesQuerySet(dataclasses.replace(self._state, distinct=True), self._fields, self._mode)

    async def first(self) -> Any:
        """The first row, or None."""
        rows = await self[:1]
        return rows[0] if rows else None

    async def _fetch(self) -> list[Any]:
        if self._state.empty or self._state.limit == 0:
            return []
        statement = Compiler(self._state).select_values(self._fields)
        rows: Sequence[Row[Any]] = await fetch_rows(statement)
        if self._mode == "flat":
            return [row[0] for row in rows]
        if self._mode == "tuple":
            return [tuple(row) for row in rows]
        return [row._asdict() for row in rows]


def _synchronize() -> dict[str, Any]:
    """Inside ``transaction()`` rows already loaded in its session take the new values of an UPDATE (and
    leave it after a DELETE), so later reads in the block see them; outside, every call has a new session."""
    return {"synchronize_session": "fetch" if in_transaction() else False}


def _with_annotations(rows: Sequence[Row[Any]], names: list[str]) -> list[Any]:
    """The model instances of ``rows`` (entity first), with annotation values set as attributes."""
    objects = []
    for row in rows:
        obj = row[0]
        for index, name in enumerate(names, start=1):
            obj.__dict__[name] = row[index]
        objects.append(obj)
    return objects


def _reversed(order: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(item[1:] if item.startswith("-") else f"-{item}" for item in order)


def _describe(conditions: tuple[Q, ...], lookups: dict[str, Any]) -> str:
    parts = [repr(c) for c in conditions] + [f"{k}={v!r}" for k, v in lookups.items()]
    return ", ".join(parts) or "the query"
