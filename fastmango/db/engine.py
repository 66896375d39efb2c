"""The database connection: one async engine per process, configured from a URL.

``await connect(url)`` / ``await disconnect()`` for scripts and tests; a ``FastMango`` app connects in its
lifespan through :class:`fastmango.db.plugin.DatabasePlugin`.

Reads outside ``transaction()`` use an autocommit connection that is returned to the pool without a
``ROLLBACK`` (ARCHITECTURE.md: the cheap path); transactions use ordinary connections.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool, StaticPool

from fastmango.core.errors import ImproperlyConfigured
from fastmango.core.lazy import require
from fastmango.core.settings import mask_url, normalize_database_url


class Database:
    """An async engine with its session factories.

    Attributes:
        url: The normalized URL (with its async driver).
        engine: Engine for transactions (BEGIN ... COMMIT).
        autocommit_engine: The same pool in autocommit mode, for single statements outside ``transaction()``.
    """

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10, pooled: bool = True) -> None:
        try:
            self.url = normalize_database_url(url)
        except ValueError as exc:
            raise ImproperlyConfigured(f"DATABASE_URL {exc}") from exc
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        # hide_parameters: a failed statement's values (a password hash, personal data) stay out of
        # exception messages and logs, unless SQL echo was asked for.
        options: dict[str, Any] = {"echo": echo, "pool_reset_on_return": None, "hide_parameters": not echo}
        memory = self.dialect == "sqlite" and (parsed.database in (None, "", ":memory:") or "mode=memory" in self.url)
        if self.dialect == "postgresql":
            require("asyncpg", extra="postgres")
        if not pooled and not memory:
            # A connection per session, closed after it: nothing outlives the event loop that opened it.
            options.update(poolclass=NullPool)
        elif self.dialect == "postgresql":
            options.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False)
        elif memory:
            # One shared connection, or every session would see its own empty in-memory database.
            options.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        # On PostgreSQL an autocommit connection reads without BEGIN ... ROLLBACK. On SQLite the driver is put
        # in autocommit mode once per connection and SQLAlchemy emits BEGIN itself (so that savepoints and
        # rollbacks work), except on connections marked as autocommit: switching aiosqlite's isolation level
        # per checkout would cost two thread hops.
        self.autocommit_engine: AsyncEngine
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_on_connect)
            event.listen(self.engine.sync_engine, "begin", _sqlite_on_begin)
            self.autocommit_engine = self.engine.execution_options(fastmango_autocommit=True)
        else:
            self.autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self.autocommit_sessions = async_sessionmaker(self.autocommit_engine, expire_on_commit=False, autoflush=False)

    @property
    def is_sqlite(self) -> bool:
        """Whether this is a SQLite database."""
        return self.dialect == "sqlite"

    @property
    def safe_url(self) -> str:
        """The URL with its password masked, for messages and logs."""
        return mask_url(self.url)

    async def ping(self) -> None:
        """Open a connection and run ``SELECT 1``.

        Raises:
            ImproperlyConfigured: the database cannot be reached; the message names the URL (password masked).
        """
        try:
            async with self.autocommit_engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ImproperlyConfigured(
                f"cannot connect to the database at {self.safe_url}: {reason}; check DATABASE_URL"
            ) from exc

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 module's own transaction handling never emits BEGIN before SAVEPOINT or SELECT, which breaks
    # nested transactions; turn it off and let _sqlite_on_begin emit BEGIN (SQLAlchemy's documented recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # contains/startswith are case-sensitive, as on PostgreSQL; the i* lookups use lower().
    cursor.execute("PRAGMA case_sensitive_like=ON")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    if not connection.get_execution_options().get("fastmango_autocommit"):
        # IMMEDIATE takes the write lock at once: a transaction that reads then writes cannot deadlock
        # against another one doing the same (SQLite would answer "database is locked" at once).
        connection.exec_driver_sql("BEGIN IMMEDIATE")


_database: Database | None = None


def configure(url: str | None = None, *, echo: bool = False, pool_size: int = 10, pooled: bool = True) -> Database:
    """Create the process's database (no I/O). ``url`` defaults to the settings' ``database_url``.

    ``pooled=False`` opens a connection per session and closes it after (tests, where each test has its loop).
    """
    global _database
    if url is None:
        from fastmango.core.settings import Settings

        settings = Settings()
        url, echo, pool_size = settings.database_url, settings.database_echo, settings.database_pool_size
    _database = Database(url, echo=echo, pool_size=pool_size, pooled=pooled)
    return _database


async def connect(url: str | None = None, *, echo: bool = False, pool_size: int = 10) -> Database:
    """Configure the database and check that it answers. ``url`` defaults to the settings' ``database_url``.

    Raises:
        ImproperlyConfigured: the URL is invalid or the database cannot be reached.
    """
    database = configure(url, echo=echo, pool_size=pool_size)
    try:
        await database.ping()
    except ImproperlyConfigured:
        await disconnect()
        raise
    return database


async def disconnect() -> None:
    """Close the database's connections. Safe to call when not connected."""
    global _database
    database, _database = _database, None
    if database is not None:
        await database.dispose()


@asynccontextmanager
async def connected(url: str | None = None, **options: Any) -> AsyncIterator[Database]:
    """``async with connected(url):`` connects for the block and disconnects after it."""
    database = await connect(url, **options)
    try:
        yield database
    finally:
        await disconnect()


def get_database() -> Database:
    """The configured database.

    Raises:
        ImproperlyConfigured: nothing is connected yet.
    """
    if _database is None:
        raise ImproperlyConfigured(
            "the database is not connected: call `await fastmango.db.connect()`, `fastmango.setup()`, "
            "or run inside a FastMango app's lifespan"
        )
    return _database
