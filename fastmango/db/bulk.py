"""Multi-row INSERT for ``bulk_create``: one statement per batch on both databases, primary keys returned."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from fastmango.db.compiler import model_info
from fastmango.db.session import session_scope

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
    rows = [{name: getattr(obj, name) for name in names} for obj in objs]
    keys: list[Any] = []
    async with session_scope(atomic=True) as session:
        if session.get_bind().dialect.name == "sqlite":
            size = max(1, min(batch_size, SQLITE_MAX_VARIABLES // max(len(names), 1)))
            for start in range(0, len(rows), size):
                statement = insert(table).values(rows[start : start + size]).returning(pk_column)
                keys.extend(sorted(row[0] for row in (await session.execute(statement)).all()))
        else:
            statement = insert(table).returning(pk_column, sort_by_parameter_order=True)
            for start in range(0, len(rows), batch_size):
                result = await session.execute(statement, rows[start : start + batch_size])
                keys.extend(row[0] for row in result.all())
    for obj, key in zip(objs, keys, strict=True):
        set_committed_value(obj, pk_name, key)
        make_transient_to_detached(obj)
