"""Rows shaped as a read schema: CRUD reads select the schema's columns with ``values_list()`` (planned once per
shape by the db layer) and turn each row into a JSON-ready dict by position, building no model instances."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Builder = Callable[[Sequence[Any]], dict[str, Any]]


def row_builder(paths: list[str], columns: list[str], relations: dict[str, tuple[str, list[str]]]) -> Builder:
    """A function turning a row of ``paths`` (``author__name``...) into ``{"author": {"name": ...}}``."""
    index = {path: position for position, path in enumerate(paths)}
    own = [(name, index[name]) for name in columns]
    nested = [
        (relation, index[f"{relation}__{pk}"], [(name, index[f"{relation}__{name}"]) for name in names])
        for relation, (pk, names) in relations.items()
    ]

    def build(row: Sequence[Any]) -> dict[str, Any]:
        item = {name: row[position] for name, position in own}
        for relation, pk_position, fields in nested:
            item[relation] = None if row[pk_position] is None else {name: row[p] for name, p in fields}
        return item

    return build
