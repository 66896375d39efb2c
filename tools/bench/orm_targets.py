"""The databases the benchmark runs on: a SQLite file in a temporary folder, and a PostgreSQL database of
its own (``fm_bench_<random>``) created on the server and dropped at the end."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from tools.bench.orm_raw import RawAiosqlite, RawAsyncpg, RawImpl

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Target:
    """One database to benchmark.

    Attributes:
        label: Heading of its table ("SQLite", "PostgreSQL").
        driver: The async driver every implementation uses.
        url: The URL given to ``fastmango.db.connect`` (fastmango adds the async driver).
        sqlalchemy_url: The same database with its async driver, for ``create_async_engine``.
        raw: Makes the raw-driver implementation.
    """

    label: str
    driver: str
    url: str
    sqlalchemy_url: str
    raw: Callable[[], RawImpl]


@asynccontextmanager
async def sqlite_target() -> AsyncIterator[Target]:
    """A SQLite file database in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="fm_bench_") as folder:
        path = str(Path(folder) / "bench.sqlite3")
        yield Target(
            label="SQLite",
            driver="aiosqlite",
            url=f"sqlite:///{path}",
            sqlalchemy_url=f"sqlite+aiosqlite:///{path}",
            raw=lambda: RawAiosqlite(path),
        )


@asynccontextmanager
async def postgres_target(server_url: str = DEFAULT_POSTGRES_URL) -> AsyncIterator[Target]:
    """A new database ``fm_bench_<random>`` on the server of ``server_url``, dropped afterwards.

    ``server_url`` names any database the user may connect to; it is used to create and drop the new one.
    """
    server = make_url(server_url)
    name = f"fm_bench_{secrets.token_hex(4)}"
    admin_dsn = _render(server, "postgresql")
    await _admin(admin_dsn, f'CREATE DATABASE "{name}"')
    try:
        bench = server.set(database=name)
        dsn = _render(bench, "postgresql")
        yield Target(
            label="PostgreSQL",
            driver="asyncpg",
            url=dsn,
            sqlalchemy_url=_render(bench, "postgresql+asyncpg"),
            raw=lambda: RawAsyncpg(dsn),
        )
    finally:
        await _admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _render(url: URL, drivername: str) -> str:
    return url.set(drivername=drivername).render_as_string(hide_password=False)


async def _admin(dsn: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE) on a connection of its own."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
