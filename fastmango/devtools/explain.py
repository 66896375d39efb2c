"""EXPLAIN of a recorded SELECT, on demand from the panel: the plan the database would use for it.

The statement is the recorded one (only a single SELECT; no value of the request is needed): PostgreSQL prepares
it and explains its generic plan (``plan_cache_mode = force_generic_plan``, what PostgreSQL 16 calls
``EXPLAIN (GENERIC_PLAN)``), SQLite explains its query plan; both in a read-only transaction that is rolled back.
"""

from __future__ import annotations

import re

from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from fastmango.core.errors import ProblemError
from fastmango.db.engine import get_database

_PG_PARAMETER = re.compile(r"\$(\d+)")


def explainable(sql: str) -> bool:
    """Whether ``sql`` is one SELECT statement (nothing else may be explained)."""
    body = sql.strip().rstrip(";")
    return body[:6].upper() == "SELECT" and ";" not in body


async def explain(sql: str) -> list[str]:
    """The plan of ``sql`` (a recorded SELECT), one line per row.

    Raises:
        ProblemError: 400 when ``sql`` is not one SELECT, or the database refuses to explain it (a parameter whose
            type it cannot infer, a data-modifying WITH below the top level, a statement cut in its record).
    """
    if not explainable(sql):
        raise ProblemError(400, "Only a SELECT statement can be explained.", title="Not explainable")
    try:
        return await _explain(sql)
    except sa_exc.DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0][:300] if str(exc.orig).strip() else type(exc.orig).__name__
        raise ProblemError(400, f"The database could not explain it: {reason}", title="Not explainable") from exc


async def _explain(sql: str) -> list[str]:
    database = get_database()
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        try:
            if connection.dialect.name == "postgresql":
                await connection.exec_driver_sql("SET TRANSACTION READ ONLY")
                await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
                await connection.exec_driver_sql(f"PREPARE fastmango_explain AS {sql}")
                count = max((int(n) for n in _PG_PARAMETER.findall(sql)), default=0)
                arguments = f"({', '.join(['NULL'] * count)})" if count else ""
                result = await connection.execute(text(f"EXPLAIN EXECUTE fastmango_explain{arguments}"))
                return [str(row[0]) for row in result]
            count = sql.count("?")
            result = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", (None,) * count)
            return [str(row[-1]) for row in result]  # id, parent, notused, detail
        finally:
            await transaction.rollback()
            if connection.dialect.name == "postgresql":
                # The prepared statement outlives the transaction: a connection of the pool must not keep it.
                await connection.invalidate()
