"""Multi-row INSERT for ``bulk_create``: one statement per batch on both databases, primary keys returned."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from fastmango.db import execute
from fastmango.db.compiler import model_info
from fastmango.db.errors import FieldError

SQLITE_MAX_VARIABLES = 32766  # SQLITE_MAX_VARIABLE_NUMBER since SQLite 3.32


async def bulk_insert(model: type[Any], objs: Sequence[Any], batch_size: int) -> None:
    """Insert ``objs`` (none has a primary key yet) atomically and set their generated primary keys.

    PostgreSQL: SQLAlchemy's "insertmanyvalues" executemany, ordered by parameter (one statement per
    1,000 rows). SQLite: SQLAlchemy would send one INSERT per row there, so one multi-row
    ``INSERT ... VALUES (...), (...) RETURNING pk`` per batch; SQLite gives the rows of one INSERT
    ascending row ids, so the returned keys are sorted before they are assigned.
    """
    info = model_info(model)
    table: Any = info.mapper.local_table
    pk_column = info.mapper.primary_key[0]
    pk_name = info.pk_name
    names = [attr.key for attr in info.mapper.column_attrs if attr.columns[0] is not pk_column]
    _sync_foreign_keys(info, objs)
    rows = [{name: getattr(obj, name) for name in names} for obj in objs]
    size = batch_size
    sqlite = execute.dialect() == "sqlite"
    if sqlite:
        size = max(1, min(batch_size, SQLITE_MAX_VARIABLES // max(len(names), 1)))
    keys = await execute.insert_batches(table, pk_column, rows, size, sqlite=sqlite)
    for obj, key in zip(objs, keys, strict=True):
        set_committed_value(obj, pk_name, key)
        make_transient_to_detached(obj)


def _sync_foreign_keys(info: Any, objs: Sequence[Any]) -> None:
    """Copy the keys of related objects assigned to to-one relations (``Book(author=ada)``) into the foreign
    key columns, as a flush would; a related object that has no key yet cannot be referenced."""
    links = []
    for name, rel in info.relations.items():
        if rel.direction.name == "MANYTOONE" and len(rel.local_columns) == 1:
            (column,) = rel.local_columns
            links.append((name, info.mapper.get_property_by_column(column).key))
    for obj in objs:
        for relation, fk in links:
            related = obj.__dict__.get(relation)
            if related is None:
                continue
            if related.pk is None:
                raise FieldError(
                    f"{type(obj).__name__}.{relation} is a {type(related).__name__} without a primary key; "
                    "save it (or bulk_create it) first"
                )
            setattr(obj, fk, related.pk)
