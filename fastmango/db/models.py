"""``Model``: a SQLModel base whose table classes get ``objects``, ``DoesNotExist`` and async instance methods."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import RelationshipProperty
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Relationship as _sqlmodel_relationship
from sqlmodel import SQLModel

from fastmango.db import execute, loading
from fastmango.db.annotations import ModelMetaclass
from fastmango.db.compiler import model_info
from fastmango.db.datetimes import use_utc_columns, watch_naive_datetimes
from fastmango.db.errors import MultipleObjectsReturned, ObjectDoesNotExist
from fastmango.db.manager import Manager
from fastmango.db.query import QuerySet


def Relationship(
    *,
    back_populates: str | None = None,
    cascade_delete: bool | None = False,
    passive_deletes: bool | Any = False,
    link_model: Any | None = None,
    sa_relationship: RelationshipProperty[Any] | None = None,
    sa_relationship_args: Sequence[Any] | None = None,
    sa_relationship_kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """Declare a relation, like ``sqlmodel.Relationship``, that never loads behind your back.

    Reading it without ``select_related``/``prefetch_related`` raises
    :class:`~fastmango.db.errors.RelationNotLoaded` rather than doing hidden I/O.
    """
    if sa_relationship is not None:
        return _sqlmodel_relationship(
            back_populates=back_populates,
            cascade_delete=cascade_delete,
            passive_deletes=passive_deletes,
            link_model=link_model,
            sa_relationship=sa_relationship,
        )
    return _sqlmodel_relationship(
        back_populates=back_populates,
        cascade_delete=cascade_delete,
        passive_deletes=passive_deletes,
        link_model=link_model,
        sa_relationship_args=sa_relationship_args,
        sa_relationship_kwargs={"lazy": loading.LAZY, **(sa_relationship_kwargs or {})},
    )


def _carries_related(obj: Any) -> bool:
    """Whether related objects were assigned to ``obj``'s relations (then a save writes several rows)."""
    state = obj.__dict__
    for name in model_info(type(obj)).relations:
        value = state.get(name)
        if value is not None and value != []:
            return True
    return False


class Model(SQLModel, metaclass=ModelMetaclass):
    """Base class of fastmango models. Declare tables as with SQLModel::

    class Book(Model, table=True):
        id: int | None = Field(default=None, primary_key=True)
        title: str

    await Book.objects.filter(title__icontains="dune").order_by("-id")
    """

    __fastmango_model__: ClassVar[bool] = True
    objects: ClassVar[Manager[Any]] = Manager()
    DoesNotExist: ClassVar[type[ObjectDoesNotExist]] = ObjectDoesNotExist
    MultipleObjectsReturned: ClassVar[type[MultipleObjectsReturned]] = MultipleObjectsReturned

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        use_utc_columns(cls)
        for name, base in (("DoesNotExist", ObjectDoesNotExist), ("MultipleObjectsReturned", MultipleObjectsReturned)):
            parent = getattr(cls, name, base)
            # repr() and tracebacks print __module__ + "." + __qualname__: mysite.models.Post.DoesNotExist
            error = type(name, (parent,), {"__module__": cls.__module__, "__qualname__": f"{cls.__qualname__}.{name}"})
            type.__setattr__(cls, name, error)
        # Relationships declared with sqlmodel.Relationship get fastmango's no-hidden-I/O loader too.
        for info in getattr(cls, "__sqlmodel_relationships__", {}).values():
            if info.sa_relationship is None:
                sa_kwargs = dict(info.sa_relationship_kwargs or {})
                sa_kwargs.setdefault("lazy", loading.LAZY)
                info.sa_relationship_kwargs = sa_kwargs

    @property
    def pk(self) -> Any:
        """The primary key value (None before the first save)."""
        return getattr(self, model_info(type(self)).pk_name)

    async def save(self) -> None:
        """Insert the row (no primary key yet) or write its changed fields.

        A new row without related objects is one ``INSERT ... RETURNING``; related objects assigned to its
        relations are saved with it, all or nothing.

        Raises:
            Model.DoesNotExist: the row was deleted meanwhile.
        """
        carries_related = _carries_related(self)
        if not carries_related and sa_inspect(self).transient:
            await execute.insert_row(self)
            return
        pk = self.pk
        if not await execute.flush_instance(self, atomic=carries_related):
            raise self.DoesNotExist(f"{type(self).__name__} with pk={pk!r} no longer exists")

    async def delete(self) -> None:
        """Delete the row. Rows that reference it through a foreign key make this an ``IntegrityError``."""
        await execute.delete_instance(self)

    async def refresh_from_db(self) -> None:
        """Reload the column values from the database.

        Raises:
            Model.DoesNotExist: the row was deleted.
        """
        info = model_info(type(self))
        names = list(info.mapper.column_attrs.keys())
        found = await QuerySet(type(self)).filter(pk=self.pk).values_list(*names)[:1]
        if not found:
            raise self.DoesNotExist(f"{type(self).__name__} with pk={self.pk!r} no longer exists")
        for name, value in zip(names, found[0], strict=True):
            set_committed_value(self, name, value)


watch_naive_datetimes(Model)
