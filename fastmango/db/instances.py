"""Detached model instances built straight from rows: what the ORM's loading does for a row, less the session.

A query outside ``transaction()`` needs no identity map, so its rows become instances here. Two things make that
cheap (it is most of the CPU of a list of instances):

- the loop over a query's rows is generated once per plan (:func:`rows_builder`): each instance and its
  ``__dict__`` are made in one go, the column values read from the row by position;
- the SQLAlchemy ``InstanceState`` is made only when something asks for it (a write, ``save()``, a relation that was
  not loaded, ``sqlalchemy.inspect``). Reading a loaded column or relation never does: SQLAlchemy's attributes
  read ``__dict__`` first. Until then the instance carries its identity key, and :class:`LazyState` (installed on
  the model class as ``_sa_instance_state``, where SQLAlchemy looks for the state) turns it into a detached state
  on first use. Once made, the state sits in ``__dict__`` and SQLAlchemy finds it there as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from sqlmodel import SQLModel

STATE = "_sa_instance_state"
#: Where a built instance keeps its identity key until its state is made.
IDENTITY = "_fastmango_identity"


class LazyState:
    """``_sa_instance_state`` of an instance built by :func:`rows_builder`: the detached state, made on first use.

    A non-data descriptor, so it runs only while the instance's ``__dict__`` has no state yet. An instance that
    was not built from a row (a new ``Model(...)``) has no identity key: the descriptor answers AttributeError, as a
    missing attribute would, and SQLAlchemy gives it a transient state of its own as always.
    """

    __slots__ = ()

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            raise AttributeError(STATE)
        values = obj.__dict__
        key = values.pop(IDENTITY, None)
        if key is None:
            raise AttributeError(STATE)
        manager = type(obj)._sa_class_manager
        state = manager._state_constructor(obj, manager)
        state.key = key
        values[STATE] = state
        return state


_LAZY_STATE = LazyState()


def install_lazy_state(model: type) -> None:
    """Let instances of ``model`` get their state on first use (idempotent). Set with ``type.__setattr__``:
    SQLAlchemy's declarative ``__setattr__`` would treat the descriptor as a new mapped attribute."""
    if model.__dict__.get(STATE) is not _LAZY_STATE:
        type.__setattr__(model, STATE, _LAZY_STATE)


Relation = tuple[int, str, Any, str]
"""A ``select_related`` step: (index of its owner among the row's objects, 0 the root; relation name; the related
model's info; the prefix of its columns' paths)."""


def rows_builder(
    root: Any, relations: list[Relation], position: dict[str, int], annotations: list[tuple[str, int]]
) -> Callable[[list[Any]], list[Any]]:
    """A function turning a query's rows into detached instances of the ``root`` model (its info), each with its
    ``select_related`` objects (one object per related row, None where the row has none) and annotation values.

    ``position`` maps a column path (``prefix + field name``) to its index in the row. The function is generated
    for the query: one loop over the rows, the column indices written into it.
    """
    namespace: dict[str, Any] = {}
    lines = ["def build_instances(found):", "    objects = []", "    append = objects.append"]
    lines += [f"    seen{number} = {{}}" for number in range(1, len(relations) + 1)]
    lines += ["    for row in found:", f"        o0 = b0(row, {_key_tuple(_key_indices(root, '', position))})"]
    namespace["b0"] = _build_function(root.model, _columns(root, "", position))
    for number, (owner, name, info, prefix) in enumerate(relations, start=1):
        namespace[f"b{number}"] = _build_function(info.model, _columns(info, prefix, position))
        keys = _key_indices(info, prefix, position)
        present = " or ".join(f"row[{index}] is not None" for index in keys)
        indent = "        " if owner == 0 else "            "
        lines.append(f"        o{number} = None")
        if owner != 0:
            lines.append(f"        if o{owner} is not None:")
        lines += [
            f"{indent}if {present}:",
            f"{indent}    k = {_key_tuple(keys)}",
            f"{indent}    o{number} = seen{number}.get(k)",
            f"{indent}    if o{number} is None:",
            f"{indent}        o{number} = seen{number}[k] = b{number}(row, k)",
            f"{indent}o{owner}.__dict__[{name!r}] = o{number}",
        ]
    lines += [f"        o0.__dict__[{name!r}] = row[{index}]" for name, index in annotations]
    lines += ["        append(o0)", "    return objects", ""]
    return _compiled("\n".join(lines), "build_instances", namespace)


def _columns(info: Any, prefix: str, position: dict[str, int]) -> list[tuple[str, int]]:
    return [(attr.key, position[prefix + attr.key]) for attr in info.mapper.column_attrs]


def _key_indices(info: Any, prefix: str, position: dict[str, int]) -> list[int]:
    mapper = info.mapper
    return [position[prefix + mapper.get_property_by_column(column).key] for column in mapper.primary_key]


def _key_tuple(indices: list[int]) -> str:
    return "(" + "".join(f"row[{index}], " for index in indices) + ")"


def _build_function(model: Any, columns: list[tuple[str, int]]) -> Callable[[Any, tuple[Any, ...]], Any]:
    """``(row, identity) -> instance``: the instance made as SQLModel's ``__new__`` makes it (pydantic's attributes
    of an unset model) and its ``__dict__`` set in one assignment; a model with a ``__new__`` of its own is made by
    it and its ``__dict__`` updated."""
    install_lazy_state(model)
    items = ", ".join(f"{name!r}: row[{index}]" for name, index in columns)
    if model.__new__ is SQLModel.__new__:
        make = "obj = new(model)\n    fields_set(obj, set())\n    extra(obj, None)\n    private(obj, None)\n"
        fill = "set_attribute(obj, '__dict__', values)"
    else:
        make = "obj = model.__new__(model)\n"
        fill = "obj.__dict__.update(values)"
    source = (
        "def build(row, identity):\n"
        f"    {make}"
        f"    values = {{IDENTITY: (model, identity, None), {items}}}\n"
        f"    {fill}\n"
        "    return obj\n"
    )
    namespace = {
        "model": model,
        "new": object.__new__,
        # pydantic's slots, set through their descriptors as object.__setattr__ would
        "fields_set": _slot_setter("__pydantic_fields_set__"),
        "extra": _slot_setter("__pydantic_extra__"),
        "private": _slot_setter("__pydantic_private__"),
        "set_attribute": object.__setattr__,
        "IDENTITY": IDENTITY,
    }
    return _compiled(source, "build", namespace)


def _slot_setter(name: str) -> Callable[[Any, Any], None]:
    setter: Callable[[Any, Any], None] = vars(BaseModel)[name].__set__
    return setter


def _compiled(source: str, name: str, namespace: dict[str, Any]) -> Callable[..., Any]:
    """Define the function ``name`` of ``source`` (generated by this module from field names and row indices)."""
    exec(compile(source, f"<fastmango.db.instances {name}>", "exec"), namespace)
    function: Callable[..., Any] = namespace[name]
    return function
