"""The read path of CRUD endpoints: rows shaped as the read schema, with statements prepared once.

A request that only names a primary key or a page (no filters) runs a statement built when the router was
created, with bound parameters, on a plain connection: no per-request statement building, no SQLAlchemy
cache-key work, no ORM session, and rows turned into JSON-ready dicts by position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import bindparam, func, insert, select

from fastmango.db.compiler import Compiler, model_info
from fastmango.db.expressions import Q
from fastmango.db.query import QueryState
from fastmango.db.session import PreparedRead

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


class PreparedReads:
    """The statements of a model's unfiltered reads, built once."""

    def __init__(self, model: type[Any], paths: list[str], build: Builder) -> None:
        info = model_info(model)
        self.model = model
        self.build = build
        pk_name = info.pk_name
        pk_column = getattr(model, pk_name)
        by_pk = QueryState(model=model, where=(Q(**{pk_name: bindparam("fm_pk")}),))
        self.get = PreparedRead(Compiler(by_pk).select_values(tuple(paths)).limit(1))
        ordered = QueryState(model=model, order_by=(pk_name,))
        page = Compiler(ordered).select_values(tuple(paths))
        self.page = PreparedRead(page.limit(bindparam("fm_limit")).offset(bindparam("fm_offset")))
        after = QueryState(model=model, order_by=(pk_name,), where=(Q(**{f"{pk_name}__gt": bindparam("fm_after")}),))
        self.page_after = PreparedRead(Compiler(after).select_values(tuple(paths)).limit(bindparam("fm_limit")))
        self.first_page = PreparedRead(page.limit(bindparam("fm_limit")))
        self.count = PreparedRead(select(func.count()).select_from(model))
        self._table: Any = info.mapper.local_table
        self._pk_column = pk_column
        self._inserts: dict[tuple[str, ...], PreparedRead] = {}

    async def one(self, pk: Any) -> dict[str, Any] | None:
        rows = await self.get.fetch({"fm_pk": pk})
        return self.build(rows[0]) if rows else None

    async def offset_page(self, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        total = (await self.count.fetch())[0][0]
        rows = await self.page.fetch({"fm_limit": limit, "fm_offset": offset})
        return [self.build(row) for row in rows], int(total)

    async def cursor_page(self, limit: int, after: Any | None) -> list[dict[str, Any]]:
        if after is None:
            rows = await self.first_page.fetch({"fm_limit": limit})
        else:
            rows = await self.page_after.fetch({"fm_limit": limit, "fm_after": after})
        return [self.build(row) for row in rows]

    async def create(self, values: dict[str, Any]) -> Any:
        """Insert one row in one statement; its primary key."""
        names = tuple(values)
        prepared = self._inserts.get(names)
        if prepared is None:
            statement = insert(self._table).values({name: bindparam(name) for name in names}).returning(self._pk_column)
            prepared = self._inserts[names] = PreparedRead(statement)
        rows = await prepared.fetch(values, write=True)
        return rows[0][0]
