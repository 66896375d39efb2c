"""A project's tests run against a throwaway database, never the development one (Django's test database).

The pytest plugin turns this on when pytest runs in a fastmango project (a ``pyproject.toml`` with
``[tool.fastmango]`` at pytest's root folder): before any test module imports the app, it points
``DATABASE_URL`` at the test database and selects the ``test`` profile; once per session it creates that
database and migrates it (framework and project migrations, then tables of models that have no migration
yet); after each test it empties every table, so each test starts from the migrated state.

- SQLite: a new database file in a temporary folder, removed at the end of the session.
- PostgreSQL: ``<name>_test`` beside the development database ``<name>``, dropped and created afresh
  (``<name>_test_gw0``, ``<name>_test_gw1``, ... for the workers of ``pytest -n``).
- ``FASTMANGO_TEST_DATABASE_URL`` names another database; ``[tool.fastmango] test_database = false`` turns
  the whole thing off.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from fastmango.core.errors import FastMangoError
from fastmango.core.project import Project, find_project
from fastmango.core.settings import Settings, mask_url, normalize_database_url
from fastmango.testing.services import xdist_worker

#: Tables kept when a test's rows are removed: the migration state and the permissions ``migrate`` created.
KEPT_TABLES = frozenset({"alembic_version", "auth_permission"})

#: Fast password hashing for tests (the defaults cost ~0.1 s and 64 MiB per hash); a project may set its own.
_TEST_ENVIRONMENT = {
    "FASTMANGO_ENV": "test",
    "FASTMANGO_PASSWORD_ARGON2_TIME_COST": "1",
    "FASTMANGO_PASSWORD_ARGON2_MEMORY_KIB": "1024",
}


@dataclass
class TestDatabase:
    """The database a project's test session uses.

    Attributes:
        project: The project under test.
        url: The test database's URL (async driver).
        temporary: The folder holding a SQLite test database, removed by :meth:`remove`.
    """

    project: Project
    url: str
    temporary: Path | None = None

    __test__ = False  # not a test class, whatever pytest's name patterns say

    @property
    def is_postgres(self) -> bool:
        """Whether the test database is PostgreSQL."""
        return make_url(self.url).get_backend_name() == "postgresql"

    def create(self) -> None:
        """Create the database (PostgreSQL: drop a leftover one first)."""
        if self.is_postgres:
            name = make_url(self.url).database
            drop, create = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
            _run(_postgres_admin(self.url, drop, create))

    def migrate(self) -> None:
        """Apply the framework's and the project's migrations, then create tables no migration holds yet."""
        _run(_migrate(self.project, self.url))

    def flush(self) -> None:
        """Delete every row, except in :data:`KEPT_TABLES`, and restart the id sequences."""
        _run(_flush(self.url))

    def remove(self) -> None:
        """Drop the database (PostgreSQL) or remove its folder (SQLite)."""
        if self.is_postgres:
            name = make_url(self.url).database
            _run(_postgres_admin(self.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if self.temporary is not None:
            shutil.rmtree(self.temporary, ignore_errors=True)


def create_database_if_missing(url: str) -> None:
    """Create the PostgreSQL database ``url`` names unless it exists (two processes may race: both succeed)."""
    _run(_create_if_missing(url))


async def _create_if_missing(url: str) -> None:
    from fastmango.core.lazy import require

    asyncpg = require("asyncpg", extra="postgres")
    name = make_url(url).database
    # There already, or made by a process that raced this one: either way it exists now.
    with contextlib.suppress(asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
        await _postgres_admin(url, f'CREATE DATABASE "{name}"')


def project_under_test(rootpath: Path) -> Project | None:
    """The fastmango project at pytest's root folder, or None (then nothing is changed)."""
    try:
        project = find_project(rootpath)
    except FastMangoError:
        return None
    # config is empty when only FASTMANGO_APP named the app: no project file here, nothing to take over.
    if not project.config or project.config.get("test_database", True) is False:
        return None
    return project


def prepare(project: Project) -> TestDatabase:
    """Point the environment at a throwaway database for ``project``; nothing is created yet.

    Called before the tests import the app, so that its ``Settings()`` read the test database.
    """
    for name, value in _TEST_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    explicit = os.environ.get("FASTMANGO_TEST_DATABASE_URL")
    temporary = None
    if explicit:
        url = normalize_database_url(explicit)
    else:
        development = Settings(_env_file=(project.root / ".env", project.root / ".env.test")).database_url
        parsed = make_url(development)
        if parsed.get_backend_name() == "postgresql":
            worker = xdist_worker()  # each pytest-xdist worker has a test database of its own
            suffix = "" if worker is None else f"_gw{worker}"
            url = parsed.set(database=f"{parsed.database}_test{suffix}").render_as_string(hide_password=False)
        else:
            temporary = Path(tempfile.mkdtemp(prefix=f"{project.package}-test-"))
            url = f"sqlite+aiosqlite:///{temporary / 'test.sqlite3'}"
    for name in ("DATABASE_URL", "FASTMANGO_DATABASE_URL"):
        os.environ[name] = url
    return TestDatabase(project, url, temporary)


def describe(database: TestDatabase) -> str:
    """One line for pytest's header: which database the tests use."""
    return f"fastmango: {database.project.package} tests use the database {mask_url(database.url)}"


def _run(coroutine: Any) -> Any:
    """Run ``coroutine`` on an event loop of its own, in a thread (a test's loop may be running)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _postgres_admin(url: str, *statements: str) -> None:
    from fastmango.core.lazy import require

    asyncpg = require("asyncpg", extra="postgres")
    server = make_url(url).set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(server.render_as_string(hide_password=False))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _migrate(project: Project, url: str) -> None:
    from sqlmodel import SQLModel

    from fastmango.auth.permissions import sync_permissions
    from fastmango.db import connected
    from fastmango.db.migrations import Migrations, load_project

    loaded = load_project(project)
    if hasattr(loaded.app, "configure_plugins"):
        loaded.app.configure_plugins()  # loads the project's modules, whose models may have tables too
        loaded.app.reset_configuration()  # the app started by the tests runs the hooks again, on its own
    migrations = Migrations.for_app(project.migrations_dir, loaded.app, url)
    await migrations.migrate()
    async with connected(url) as database:
        async with database.engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all)
        if "auth_permission" in SQLModel.metadata.tables:
            await sync_permissions()


async def _flush(url: str) -> None:
    from sqlalchemy import inspect, text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            tables = [table for table in tables if table not in KEPT_TABLES]
            if not tables:
                return
            if engine.dialect.name == "postgresql":
                quoted = ", ".join(f'"{table}"' for table in tables)
                await connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
                return
            await connection.execute(text("PRAGMA foreign_keys = OFF"))  # before the first write: outside BEGIN
            for table in tables:
                await connection.execute(text(f'DELETE FROM "{table}"'))
    finally:
        await engine.dispose()
