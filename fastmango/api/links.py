"""Many-to-many relations through their link model: which rows a row is linked to, and setting them.

A relation declared ``Relationship(link_model=PostTag)`` is written as rows of the link model, through the ORM
(``PostTag.objects``), so the writes run in the caller's transaction like any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fastmango.db.compiler import model_info
from fastmango.db.errors import FieldError


@dataclass(frozen=True)
class Link:
    """A many-to-many relation of ``model``: the link model and its two key fields.

    Attributes:
        model: The link model (``PostTag``).
        own: The link model's field holding the row's key (``post_id``).
        other: The link model's field holding the related row's key (``tag_id``).
        target: The related model (``Tag``).
    """

    model: type[Any]
    own: str
    other: str
    target: type[Any]


def is_many_to_many(model: type[Any], name: str) -> bool:
    """Whether ``name`` is a relation of ``model`` through a link table."""
    relation = model_info(model).relations.get(name)
    return relation is not None and relation.secondary is not None


_links: dict[tuple[type[Any], str], Link] = {}


def link_of(model: type[Any], name: str) -> Link:
    """The :class:`Link` of the many-to-many relation ``name`` of ``model`` (cached).

    Raises:
        FieldError: ``name`` is no many-to-many relation of ``model``.
    """
    found = _links.get((model, name))
    if found is None:
        found = _links[(model, name)] = _link_of(model, name)
    return found


def _link_of(model: type[Any], name: str) -> Link:
    relation = model_info(model).relations.get(name)
    if relation is None or relation.secondary is None:
        raise FieldError(f"{model.__name__}.{name} is not a many-to-many relation (Relationship(link_model=...))")
    from sqlmodel.main import default_registry

    mapper = next((m for m in default_registry.mappers if m.local_table is relation.secondary), None)
    if mapper is None:
        raise FieldError(f"the link table of {model.__name__}.{name} has no model; declare it as a Model")
    own = mapper.get_property_by_column(relation.synchronize_pairs[0][1]).key
    other = mapper.get_property_by_column(next(iter(relation.secondary_synchronize_pairs or ()))[1]).key
    return Link(model=mapper.class_, own=own, other=other, target=relation.mapper.class_)


async def linked(model: type[Any], name: str, pks: Iterable[Any]) -> dict[Any, list[Any]]:
    """The keys of the rows each of ``pks`` is linked to through ``name``: ``{post_pk: [tag_pk, ...]}``."""
    link = link_of(model, name)
    keys = list(pks)
    found: dict[Any, list[Any]] = {pk: [] for pk in keys}
    if not keys:
        return found
    rows = await link.model.objects.filter(**{f"{link.own}__in": keys}).values_list(link.own, link.other)
    for own, other in rows:
        found.setdefault(own, []).append(other)
    for values in found.values():
        values.sort(key=str)
    return found


def target_keys(model: type[Any], name: str, targets: Sequence[Any]) -> list[Any]:
    """``targets`` as keys of the related model of ``name`` (validated with its primary key's type).

    Raises:
        ProblemError: 422 naming ``name`` when one is no such key (an object, a list, text for an integer key...).
    """
    from fastmango.api.bounds import value_adapter
    from fastmango.core.errors import ProblemError

    target = link_of(model, name).target
    adapter = value_adapter(target, model_info(target).pk_name)
    keys = []
    for index, key in enumerate(targets):
        try:
            if key is None or isinstance(key, (dict, list, bool)):
                raise ValueError(key)
            keys.append(adapter.validate_python(key))
        except ValueError:
            message = f"Item {index} is not a key of {target.__name__}."
            raise ProblemError(
                422, f"{name}: {message}", title="Validation failed", errors=[{"field": name, "message": message}]
            ) from None
    return keys


async def set_links(model: type[Any], name: str, pk: Any, targets: Sequence[Any]) -> list[Any] | None:
    """Link row ``pk`` to exactly ``targets`` through ``name`` (others unlinked); the keys before, or None when
    nothing changed."""
    link = link_of(model, name)
    wanted = list(dict.fromkeys(target_keys(model, name, targets)))
    current = (await linked(model, name, [pk]))[pk]
    remove = [key for key in current if key not in wanted]
    add = [key for key in wanted if key not in current]
    if remove:
        await link.model.objects.filter(**{link.own: pk, f"{link.other}__in": remove}).delete()
    if add:
        await link.model.objects.bulk_create([link.model(**{link.own: pk, link.other: key}) for key in add])
    return current if remove or add else None
