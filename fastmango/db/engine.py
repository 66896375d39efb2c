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
from fastmango.db import hook, pg_errors


class Database:
    """An async engine with its session factories.

    Attributes:
        url: The normalized URL (with its async driver).
        engine: Engine for transactions (BEGIN ... COMMIT).
        autocommit_engine: The same pool in autocommit mode, for single statements outside ``transaction()``.
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        pooled: bool = True,
        connect_timeout: float = 5.0,
        pool_timeout: float = 5.0,
        statement_timeout: float = 30.0,
    ) -> None:
        """Create the engine (no I/O).

        Args:
            url: A SQLite or PostgreSQL URL.
            echo: Log every statement with its values (secret-looking ones masked) to ``fastmango.db.sql``.
            pool_size: Connections kept open (as many again may be opened under load).
            pooled: False: a connection per session, closed after it (tests, where each test has its loop).
            connect_timeout: Seconds to open a PostgreSQL connection before the database counts as down.
            pool_timeout: Seconds to wait for a free pooled connection.
            statement_timeout: Seconds a PostgreSQL statement may run (the server's ``statement_timeout``; the
                client gives up a second later, when the server does not answer at all). 0: no limit.
        """
        try:
            self.url = normalize_database_url(url)
        except ValueError as exc:
            raise ImproperlyConfigured(f"DATABASE_URL {exc}") from exc
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        # hide_parameters: a failed statement's values (a password hash, personal data) stay out of
        # exception messages and logs, unless SQL echo was asked for.
        options: dict[str, Any] = {"pool_reset_on_return": None, "hide_parameters": not echo}
        memory = self.dialect == "sqlite" and (parsed.database in (None, "", ":memory:") or "mode=memory" in self.url)
        if self.dialect == "postgresql":
            require("asyncpg", extra="postgres")
        if not pooled and not memory:
            # A connection per session, closed after it: nothing outlives the event loop that opened it.
            options.update(poolclass=NullPool)
        elif self.dialect == "postgresql":
            # No pre-ping (a round trip per checkout): pg_errors replaces connections the driver knows are closed,
            # and invalidates the pool when one fails.
            options.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False, pool_timeout=pool_timeout)
        elif memory:
            # One shared connection, or every session would see its own empty in-memory database.
            options.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            options.update(pool_timeout=pool_timeout)
        if self.dialect == "postgresql":
            options["connect_args"] = _postgres_timeouts(connect_timeout, statement_timeout)
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        hook.install(self.engine.sync_engine)
        if echo:  # SQL echo is a listener of the query hook, so it sees the statements of every route
            hook.echo()
        if self.dialect == "postgresql":
            pg_errors.install(self.engine, hide_values=not echo)
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


def _postgres_timeouts(connect_timeout: float, statement_timeout: float) -> dict[str, Any]:
    """asyncpg's connect arguments: its connect timeout, and the statement timeout on the server (which cancels
    the statement cleanly) with the client's one second later (the server does not answer: it is hung)."""
    arguments: dict[str, Any] = {"timeout": connect_timeout}
    if statement_timeout:
        arguments["server_settings"] = {"statement_timeout": str(max(1, round(statement_timeout * 1000)))}
        arguments["command_timeout"] = statement_timeout + _CLIENT_GRACE_SECONDS
    return arguments


_CLIENT_GRACE_SECONDS = 1.0


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


def configure(
    url: str | None = None, *, echo: bool = False, pool_size: int = 10, pooled: bool = True, **timeouts: float
) -> Database:
    """Create the process's database (no I/O). ``url`` defaults to the settings' ``database_url`` (and the
    timeouts to the settings' ``database_*_timeout``).

    ``pooled=False`` opens a connection per session and closes it after (tests, where each test has its loop).
    ``timeouts``: ``connect_timeout``, ``pool_timeout``, ``statement_timeout`` (see :class:`Database`).
    """
    global _database
    if url is None:
        from fastmango.core.settings import Settings

        settings = Settings()
        url, echo, pool_size = settings.database_url, settings.database_echo, settings.database_pool_size
        timeouts = {
            "connect_timeout": settings.database_connect_timeout,
            "pool_timeout": settings.database_pool_timeout,
            "statement_timeout": settings.database_statement_timeout,
        } | timeouts
    _database = Database(url, echo=echo, pool_size=pool_size, pooled=pooled, **timeouts)
    return _database


async def connect(url: str | None = None, *, echo: bool = False, pool_size: int = 10, **timeouts: float) -> Database:
    """Configure the database and check that it answers. ``url`` defaults to the settings' ``database_url``.

    Raises:
        ImproperlyConfigured: the URL is invalid or the database cannot be reached.
    """
    database = configure(url, echo=echo, pool_size=pool_size, pooled=True, **timeouts)
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
