"""The benchmarked operations as hand-written SQL on the bare drivers: asyncpg and aiosqlite.

These are the floor. They also seed the tables and delete what the write operations added, outside timing.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from typing import Any

from tools.bench.orm_impls import BookValues, Implementation, book_dicts

_GET = "SELECT id, title, pages, author_id FROM book WHERE id = $1"
_JOINED = (
    "SELECT b.id, b.title, b.pages, b.author_id, a.id, a.name FROM book AS b JOIN author AS a ON a.id = b.author_id"
    " WHERE b.pages > $1 ORDER BY b.id LIMIT 20"
)
_INSERT = "INSERT INTO book (title, pages, author_id) VALUES ($1, $2, $3)"
_COUNT = "SELECT count(*) FROM book WHERE pages > $1"
_INSERT_AUTHOR = "INSERT INTO author (name) VALUES ($1)"
_DELETE_AFTER = "DELETE FROM book WHERE id > $1"


def _qmark(sql: str) -> str:
    """The same statement with SQLite's ``?`` placeholders instead of PostgreSQL's ``$n``."""
    return re.sub(r"\$\d+", "?", sql)


_QMARK_JOINED = _qmark(_JOINED)


class RawRows:
    """Normalizers for driver rows (tuples or asyncpg records)."""

    def book_row(self, book: Any) -> tuple[Any, ...]:
        return tuple(book)

    def joined_row(self, book: Any) -> tuple[Any, ...]:
        return (book[0], book[4], book[5])

    def created_pk(self, result: Any) -> int:
        return int(result)

    def bulk_pks(self, result: Any) -> list[Any] | None:
        return None


class RawAsyncpg(RawRows, Implementation):
    """asyncpg with a pool, its ``fetchrow``/``fetch``/``fetchval``/``executemany``.

    The pool gets a no-op ``reset``: asyncpg's default resets each released connection with a query
    (``RESET ALL``, ``UNLISTEN *``...), one more round trip per operation, and fastmango's engine returns
    connections without a reset too.
    """

    name = "asyncpg"

    def __init__(self, dsn: str, *, pool_size: int = 10) -> None:
        self.dsn = dsn
        self.pool_size = pool_size
        self.pool: Any = None

    async def start(self) -> None:
        import asyncpg

        self.pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=self.pool_size, reset=_no_reset)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def get(self, pk: int) -> Any:
        return await self.pool.fetchrow(_GET, pk)

    async def filter_related(self, min_pages: int) -> Sequence[Any]:
        return await self.pool.fetch(_JOINED, min_pages)

    async def filter_related_dicts(self, min_pages: int) -> list[dict[str, Any]]:
        """:meth:`filter_related`'s rows built into dicts, the author nested (what an ORM's caller gets)."""
        return book_dicts(await self.pool.fetch(_JOINED, min_pages))

    async def create(self, values: BookValues) -> int:
        return await self.pool.fetchval(_INSERT + " RETURNING id", *values)

    async def bulk_create(self, rows: Sequence[BookValues]) -> None:
        await self.pool.executemany(_INSERT, rows)  # atomic since asyncpg 0.22

    async def count(self, min_pages: int) -> int:
        return await self.pool.fetchval(_COUNT, min_pages)

    async def seed(self, authors: Sequence[str], books: Sequence[BookValues]) -> None:
        """Insert the authors, then the books, and refresh the planner's statistics."""
        await self.pool.executemany(_INSERT_AUTHOR, [(name,) for name in authors])
        await self.pool.executemany(_INSERT, books)
        await self.pool.execute("ANALYZE author, book")

    async def delete_books_after(self, pk: int) -> None:
        """Delete the books with a primary key above ``pk``, then vacuum the table so that the dead rows do
        not slow the scans that follow (or wake autovacuum during a timed batch)."""
        await self.pool.execute(_DELETE_AFTER, pk)
        await self.pool.execute("VACUUM book")

    async def backend_pids(self) -> tuple[str, list[int]]:
        """The database's name and the process ids of the server backends connected to it."""
        database = await self.pool.fetchval("SELECT current_database()")
        rows = await self.pool.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return str(database), [row["pid"] for row in rows]

    async def server_version(self) -> str:
        """The PostgreSQL server's version."""
        return str(await self.pool.fetchval("SHOW server_version"))


async def _no_reset(_connection: Any) -> None:
    """Return connections to the pool as they are (no reset query)."""


class RawAiosqlite(RawRows, Implementation):
    """aiosqlite on one connection in autocommit mode; ``executemany`` in an explicit transaction for bulk.

    ``execute_fetchall`` runs a statement and reads its rows in one trip to the connection's thread.
    """

    name = "aiosqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self.conn: Any = None

    async def start(self) -> None:
        import aiosqlite

        self.conn = await aiosqlite.connect(self.path, isolation_level=None)

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()

    async def get(self, pk: int) -> Any:
        rows = await self.conn.execute_fetchall(_qmark(_GET), (pk,))
        return rows[0]

    async def filter_related(self, min_pages: int) -> Sequence[Any]:
        return await self.conn.execute_fetchall(_qmark(_JOINED), (min_pages,))

    async def filter_related_dicts(self, min_pages: int) -> list[dict[str, Any]]:
        """:meth:`filter_related`'s rows built into dicts, the author nested (what an ORM's caller gets)."""
        return book_dicts(await self.conn.execute_fetchall(_QMARK_JOINED, (min_pages,)))

    async def create(self, values: BookValues) -> int:
        rows = await self.conn.execute_fetchall(_qmark(_INSERT) + " RETURNING id", values)
        return int(rows[0][0])

    async def bulk_create(self, rows: Sequence[BookValues]) -> None:
        await self._executemany(_qmark(_INSERT), rows)

    async def count(self, min_pages: int) -> int:
        rows = await self.conn.execute_fetchall(_qmark(_COUNT), (min_pages,))
        return int(rows[0][0])

    async def _executemany(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        await self.conn.execute("BEGIN")
        try:
            await self.conn.executemany(sql, rows)
        except BaseException:
            await self.conn.execute("ROLLBACK")
            raise
        await self.conn.execute("COMMIT")

    async def seed(self, authors: Sequence[str], books: Sequence[BookValues]) -> None:
        """Insert the authors, then the books, and refresh the planner's statistics."""
        await self._executemany(_qmark(_INSERT_AUTHOR), [(name,) for name in authors])
        await self._executemany(_qmark(_INSERT), books)
        await self.conn.execute("ANALYZE")

    async def delete_books_after(self, pk: int) -> None:
        """Delete the books with a primary key above ``pk``."""
        await self.conn.execute(_qmark(_DELETE_AFTER), (pk,))

    async def server_version(self) -> str:
        """The SQLite library's version."""
        return sqlite3.sqlite_version


RawImpl = RawAsyncpg | RawAiosqlite
