"""``Manager``: the ``Model.objects`` entry point; each method starts a fresh QuerySet."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from fastmango.db.query import QuerySet

if TYPE_CHECKING:
    from fastmango.db.expressions import Aggregate, Q
    from fastmango.db.models import Model

M = TypeVar("M", bound="Model")
T = TypeVar("T", bound="Model")


class Manager(Generic[M]):
    """Proxies to a new :class:`QuerySet` of its model. Subclass it and override :meth:`get_queryset`
    for a custom manager::

        class PublishedManager(Manager["Book"]):
            def get_queryset(self) -> QuerySet[Book]:
                return super().get_queryset().filter(published=True)

        class Book(Model, table=True):
            published: ClassVar[PublishedManager] = PublishedManager()
    """

    model: type[M]

    def __init__(self) -> None:
        self._bound: dict[type, Manager[Any]] = {}

    @overload
    def __get__(self, instance: None, owner: type[T]) -> Manager[T]: ...

    @overload
    def __get__(self, instance: object, owner: type[T]) -> Manager[T]: ...

    def __get__(self, instance: object | None, owner: type[T]) -> Manager[T]:
        if instance is not None:
            raise AttributeError(f"managers are reached through the class: {owner.__name__}.objects, not an instance")
        bound = self._bound.get(owner)
        if bound is None:
            bound = copy.copy(self)
            bound._bound = {}
            bound.model = owner  # type: ignore[assignment]
            self._bound[owner] = bound
        return bound  # type: ignore[return-value]

    def get_queryset(self) -> QuerySet[M]:
        """The QuerySet every method of this manager starts from."""
        return QuerySet(self.model)

    def __repr__(self) -> str:
        model = getattr(self, "model", None)
        return f"<{type(self).__name__} of {model.__name__ if model else 'no model'}>"

    # Forwarders, written out so that editors and type checkers see them.
    def all(self) -> QuerySet[M]:
        return self.get_queryset()

    def none(self) -> QuerySet[M]:
        return self.get_queryset().none()

    def filter(self, *conditions: Q, **lookups: Any) -> QuerySet[M]:
        return self.get_queryset().filter(*conditions, **lookups)

    def exclude(self, *conditions: Q, **lookups: Any) -> QuerySet[M]:
        return self.get_queryset().exclude(*conditions, **lookups)

    def order_by(self, *fields: str) -> QuerySet[M]:
        return self.get_queryset().order_by(*fields)

    def select_related(self, *paths: str) -> QuerySet[M]:
        return self.get_queryset().select_related(*paths)

    def prefetch_related(self, *paths: str) -> QuerySet[M]:
        return self.get_queryset().prefetch_related(*paths)

    def only(self, *fields: str) -> QuerySet[M]:
        return self.get_queryset().only(*fields)

    def distinct(self) -> QuerySet[M]:
        return self.get_queryset().distinct()

    def annotate(self, **expressions: Any) -> QuerySet[M]:
        return self.get_queryset().annotate(**expressions)

    def values(self, *fields: str) -> QuerySet[dict[str, Any]]:
        return self.get_queryset().values(*fields)

    def values_list(self, *fields: str, flat: bool = False) -> QuerySet[Any]:
        return self.get_queryset().values_list(*fields, flat=flat)

    def iterator(self, chunk_size: int = 2000) -> AsyncIterator[M]:
        return self.get_queryset().iterator(chunk_size)

    async def get(self, *conditions: Q, **lookups: Any) -> M:
        return await self.get_queryset().get(*conditions, **lookups)

    async def first(self) -> M | None:
        return await self.get_queryset().first()

    async def last(self) -> M | None:
        return await self.get_queryset().last()

    async def count(self) -> int:
        return await self.get_queryset().count()

    async def exists(self) -> bool:
        return await self.get_queryset().exists()

    async def aggregate(self, **aggregates: Aggregate) -> dict[str, Any]:
        return await self.get_queryset().aggregate(**aggregates)

    async def in_bulk(self, id_list: Iterable[Any] | None = None, *, field_name: str = "pk") -> dict[Any, M]:
        return await self.get_queryset().in_bulk(id_list, field_name=field_name)

    async def create(self, **fields: Any) -> M:
        created: M = await self.get_queryset().create(**fields)
        return created

    async def bulk_create(self, objs: Sequence[M], *, batch_size: int = 1000) -> list[M]:
        return await self.get_queryset().bulk_create(objs, batch_size=batch_size)

    async def get_or_create(self, defaults: dict[str, Any] | None = None, **lookups: Any) -> tuple[M, bool]:
        return await self.get_queryset().get_or_create(defaults, **lookups)

    async def update_or_create(self, defaults: dict[str, Any] | None = None, **lookups: Any) -> tuple[M, bool]:
        return await self.get_queryset().update_or_create(defaults, **lookups)

    async def update(self, **fields: Any) -> int:
        return await self.get_queryset().update(**fields)

    async def delete(self) -> int:
        return await self.get_queryset().delete()
