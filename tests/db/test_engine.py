from __future__ import annotations

import pytest
from sqlalchemy import text

from fastmango import ImproperlyConfigured
from fastmango import db as fdb


async def test_connect_uses_the_settings_database_url_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/from-settings.sqlite3")
    database = await fdb.connect()
    try:
        assert database.url == f"sqlite+aiosqlite:///{tmp_path}/from-settings.sqlite3"
        assert fdb.get_database() is database
    finally:
        await fdb.disconnect()
    assert (tmp_path / "from-settings.sqlite3").exists()


async def test_connected_block_connects_and_disconnects() -> None:
    async with fdb.connected("sqlite:///:memory:") as database, database.engine.connect() as conn:
        assert (await conn.execute(text("select 1"))).scalar() == 1
    with pytest.raises(ImproperlyConfigured, match="not connected"):
        fdb.get_database()


async def test_unreachable_database_names_the_url_without_its_password() -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        await fdb.connect("postgresql://app:hunter2@127.0.0.1:1/app")
    message = str(info.value)
    assert "cannot connect to the database at postgresql+asyncpg://app:***@127.0.0.1:1/app" in message
    assert "hunter2" not in message
    with pytest.raises(ImproperlyConfigured):
        fdb.get_database()


async def test_bad_url_is_refused_before_any_connection() -> None:
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL uses the unsupported scheme 'oracle'"):
        await fdb.connect("oracle://x@y/z")


async def test_querying_before_connecting_says_how_to_connect() -> None:
    from tests.db.models import Author

    with pytest.raises(ImproperlyConfigured, match=r"await fastmango\.db\.connect\(\)"):
        await Author.objects.count()


async def test_postgres_connects(postgres_url: str) -> None:
    async with fdb.connected(postgres_url) as database:
        assert database.dialect == "postgresql"
        async with database.autocommit_engine.connect() as conn:
            assert (await conn.execute(text("select 40 + 2"))).scalar() == 42


async def test_sqlite_enforces_foreign_keys_and_case_sensitive_like() -> None:
    async with fdb.connected("sqlite:///:memory:") as database, database.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await conn.execute(text("select 'ABC' LIKE 'abc'"))).scalar() == 0


async def test_postgres_statement_timeout_is_set_on_the_server(postgres_url: str) -> None:
    database = fdb.Database(postgres_url, connect_timeout=2, pool_timeout=2, statement_timeout=3)
    try:
        async with database.autocommit_engine.connect() as conn:
            assert (await conn.execute(text("SHOW statement_timeout"))).scalar() == "3s"
        assert database.engine.pool.timeout() == 2  # type: ignore[attr-defined]
    finally:
        await database.dispose()


async def test_no_statement_timeout_leaves_the_servers_own(postgres_url: str) -> None:
    database = fdb.Database(postgres_url, statement_timeout=0)
    try:
        async with database.autocommit_engine.connect() as conn:
            assert (await conn.execute(text("SHOW statement_timeout"))).scalar() == "0"
    finally:
        await database.dispose()


async def test_configure_takes_the_timeouts_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@127.0.0.1:1/app")
    monkeypatch.setenv("FASTMANGO_DATABASE_POOL_TIMEOUT", "1.5")
    database = fdb.configure()  # no I/O
    try:
        assert database.engine.pool.timeout() == 1.5  # type: ignore[attr-defined]
    finally:
        await fdb.disconnect()
