"""fastmango.db.migrations: autogenerate, migrate up and down, status and SQL, on SQLite and PostgreSQL.

These tests drive :class:`Migrations` in-process with a MetaData of their own, so that nothing is added to
``SQLModel.metadata`` (the CLI tests in tests/cli/test_db_commands.py cover the project's real models).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import fastmango.db.migrations as migrations_package
from fastmango.core.settings import normalize_database_url
from fastmango.db.hook import listening
from fastmango.db.migrations import MigrationError, Migrations
from fastmango.db.migrations.autogen import default_name
from fastmango.db.migrations.runner import ENVIRONMENT_DIR

# --- helpers shared with tests/cli/test_db_commands.py -------------------------------------------------


def _in_thread(coroutine: Any) -> Any:
    """Run a coroutine to completion in a thread of its own (the caller may be inside an event loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database created for this test and dropped after it (``test`` keeps no migration tables)."""
    name = f"fm_mig_{secrets.token_hex(4)}"
    _in_thread(_admin(postgres_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _in_thread(_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def database_state(url: str, sql: str | None = None) -> dict[str, list[str]]:
    """Run ``sql`` (if given), then return each table of the database with its column names."""

    async def read() -> dict[str, list[str]]:
        engine = create_async_engine(normalize_database_url(url), poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                if sql:
                    await conn.execute(sa.text(sql))

                def tables(sync_conn: sa.Connection) -> dict[str, list[str]]:
                    inspector = sa.inspect(sync_conn)
                    return {t: [c["name"] for c in inspector.get_columns(t)] for t in inspector.get_table_names()}

                return await conn.run_sync(tables)
        finally:
            await engine.dispose()

    result: dict[str, list[str]] = _in_thread(read())
    return result


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite3'}"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


def post_table(metadata: sa.MetaData, *extra: sa.Column[Any]) -> sa.Table:
    return sa.Table(
        "post",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(50), nullable=False),
        *extra,
    )


@pytest.fixture
def metadata() -> sa.MetaData:
    metadata = sa.MetaData()
    post_table(metadata)
    return metadata


@pytest.fixture
def migrations(tmp_path: Path, database_url: str, metadata: sa.MetaData) -> Migrations:
    return Migrations(tmp_path / "migrations", database_url, metadata=metadata)


# --- tests ----------------------------------------------------------------------------------------------


def test_public_names_are_exported() -> None:
    public = {
        name
        for name, value in vars(migrations_package).items()
        if name.isidentifier() and not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert set(migrations_package.__all__) == public


async def test_first_revision_is_initial_in_the_project_folder_with_the_packaged_env(
    migrations: Migrations,
) -> None:
    revision = await migrations.make()

    assert revision is not None
    assert revision.message == "initial"
    assert revision.changes == ["create table post"]
    assert revision.path.parent == migrations.directory
    assert [p.name for p in migrations.directory.iterdir()] == [revision.path.name]  # no env.py in the project
    assert (ENVIRONMENT_DIR / "env.py").is_file()
    assert Path(migrations.config().get_main_option("script_location") or "") == ENVIRONMENT_DIR
    source = revision.path.read_text()
    assert "import sqlmodel" in source
    assert "op.create_table('post'" in source


async def test_migrate_applies_then_no_changes_are_detected(migrations: Migrations, database_url: str) -> None:
    revision = await migrations.make()
    assert revision is not None
    printed: list[str] = []

    steps = await migrations.migrate(on_step=lambda step: printed.append(str(step)))

    assert [(s.revision, s.upgrade) for s in steps] == [(revision.revision, True)]
    assert printed == [f"  Applied {revision.revision}  initial"]
    assert database_state(database_url)["post"] == ["id", "title"]
    assert await migrations.make() is None
    assert len(list(migrations.directory.glob("*.py"))) == 1
    assert await migrations.migrate() == []


async def test_make_refuses_while_the_database_lacks_a_migration(migrations: Migrations) -> None:
    await migrations.make()
    with pytest.raises(MigrationError, match=r"lacks 1 migration\(s\) \(0001_.*run `fastmango migrate` first"):
        await migrations.make()


async def test_added_column_gets_its_own_revision(
    migrations: Migrations, metadata: sa.MetaData, database_url: str
) -> None:
    await migrations.make()
    await migrations.migrate()
    metadata.tables["post"].append_column(sa.Column("views", sa.Integer, nullable=True))

    revision = await migrations.make()

    assert revision is not None
    assert revision.message == "add_post_views"
    assert revision.changes == ["add column post.views"]
    assert revision.warnings == []
    await migrations.migrate()
    assert database_state(database_url)["post"] == ["id", "title", "views"]


async def test_not_null_column_without_default_warns(migrations: Migrations, metadata: sa.MetaData) -> None:
    await migrations.make()
    await migrations.migrate()
    metadata.tables["post"].append_column(sa.Column("views", sa.Integer, nullable=False))

    revision = await migrations.make("count views")

    assert revision is not None
    assert revision.message == "count views"
    assert revision.path.name.endswith("_count_views.py")
    assert len(revision.warnings) == 1
    assert "post.views is added NOT NULL without a server default" in revision.warnings[0]


async def test_migrate_targets_zero_relative_and_revision_prefix(
    migrations: Migrations, metadata: sa.MetaData, database_url: str
) -> None:
    first = await migrations.make()
    await migrations.migrate()
    metadata.tables["post"].append_column(sa.Column("views", sa.Integer))
    second = await migrations.make()
    assert first is not None
    assert second is not None
    await migrations.migrate()

    down = await migrations.migrate("-1")
    assert [(s.revision, s.upgrade) for s in down] == [(second.revision, False)]
    assert database_state(database_url)["post"] == ["id", "title"]

    zero = await migrations.migrate("zero")
    assert [s.revision for s in zero] == [first.revision]
    assert "post" not in database_state(database_url)
    assert await migrations.migrate("zero") == []

    up = await migrations.migrate(second.revision[:6])
    assert [(s.revision, s.upgrade) for s in up] == [(first.revision, True), (second.revision, True)]
    assert [s.applied for s in await migrations.status()] == [True, True]

    back = await migrations.migrate(first.revision)
    assert [(s.revision, s.upgrade) for s in back] == [(second.revision, False)]
    assert [(s.revision, s.applied) for s in await migrations.status()] == [
        (first.revision, True),
        (second.revision, False),
    ]


async def test_unknown_revision_names_showmigrations(migrations: Migrations) -> None:
    await migrations.make()
    with pytest.raises(MigrationError, match=r"no migration 'nope' in migrations/; `fastmango showmigrations`"):
        await migrations.migrate("nope")
    with pytest.raises(MigrationError, match="no migration 'nope'"):
        migrations.sql("nope")


async def test_database_at_a_revision_missing_from_the_folder_is_named(migrations: Migrations) -> None:
    revision = await migrations.make()
    assert revision is not None
    await migrations.migrate()
    revision.path.unlink()

    with pytest.raises(MigrationError, match=f"the database is at revision '{revision.revision}', which is not in"):
        await migrations.status()
    with pytest.raises(MigrationError, match="restore that migration file"):
        await migrations.make()


async def test_migrate_without_a_migrations_folder_says_run_makemigrations(migrations: Migrations) -> None:
    with pytest.raises(MigrationError, match=r"no migrations folder at .*; run `fastmango makemigrations` first"):
        await migrations.migrate()
    assert migrations.revisions() == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sql_shows_a_revision_without_a_database(migrations: Migrations, tmp_path: Path) -> None:
    revision = await migrations.make()
    assert revision is not None
    offline = Migrations(migrations.directory, "postgresql://nobody:pw@127.0.0.1:1/nowhere", metadata=sa.MetaData())

    forwards = offline.sql(revision.revision)
    backwards = offline.sql(revision.revision[:5], backwards=True)

    assert "CREATE TABLE post (" in forwards
    assert "title VARCHAR(50) NOT NULL" in forwards
    assert "DROP TABLE post;" in backwards


async def test_string_length_change_is_detected(migrations: Migrations, database_url: str) -> None:
    unbounded = sa.MetaData()
    sa.Table("note", unbounded, sa.Column("id", sa.Integer, primary_key=True), sa.Column("body", sa.String()))
    migrations.metadata = unbounded
    await migrations.make()
    await migrations.migrate()
    unbounded.tables["note"].c.body.type = sa.String(200)

    revision = await migrations.make()

    assert revision is not None
    assert revision.changes == ["alter column note.body"]
    await migrations.migrate()
    assert await migrations.make() is None


async def test_revisions_can_be_named_by_their_file_number(migrations: Migrations, metadata: sa.MetaData) -> None:
    first = await migrations.make()
    await migrations.migrate()
    metadata.tables["post"].append_column(sa.Column("views", sa.Integer))
    second = await migrations.make()
    assert first is not None
    assert second is not None
    assert first.path.name.startswith("0001_")
    assert second.path.name.startswith("0002_")

    assert [s.revision for s in await migrations.migrate("2")] == [second.revision]
    assert [s.revision for s in await migrations.migrate("0001")] == [second.revision]
    assert "ADD COLUMN views" in migrations.sql("0002")
    assert [s.name for s in await migrations.status()] == [first.path.stem, second.path.stem]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_column_type_change_on_sqlite_runs_in_batch_mode(
    migrations: Migrations, metadata: sa.MetaData, database_url: str
) -> None:
    await migrations.make()
    await migrations.migrate()
    database_state(database_url, "INSERT INTO post (id, title) VALUES (1, 'kept')")
    metadata.tables["post"].c.title.type = sa.Text()

    revision = await migrations.make()

    assert revision is not None
    assert revision.changes == ["alter column post.title"]
    assert "with op.batch_alter_table('post'" in revision.path.read_text()
    await migrations.migrate()
    await migrations.migrate("-1")
    await migrations.migrate()
    assert await migrations.make() is None
    assert database_state(database_url, "UPDATE post SET title = title || '!'")["post"] == ["id", "title"]


async def test_database_refusing_a_migration_is_a_one_line_error(migrations: Migrations, database_url: str) -> None:
    revision = await migrations.make()
    assert revision is not None
    source = revision.path.read_text()
    broken = "def upgrade() -> None:\n    op.execute('SELECT * FROM no_such_table')\n"
    revision.path.write_text(source.replace("def upgrade() -> None:\n", broken, 1))

    with pytest.raises(MigrationError, match=rf"^migration {revision.path.stem} failed: .*no_such_table") as caught:
        await migrations.migrate()

    assert "\n" not in str(caught.value)
    assert "post" not in database_state(database_url)
    assert [s.applied for s in await migrations.status()] == [False]


async def test_unreachable_database_is_named_without_its_password(tmp_path: Path) -> None:
    migrations = Migrations(tmp_path / "m", "postgresql://app:s3cr3t@127.0.0.1:1/app", metadata=sa.MetaData())
    with pytest.raises(MigrationError) as caught:
        await migrations.make()
    message = str(caught.value)
    assert message.startswith("cannot connect to the database at postgresql+asyncpg://app:***@127.0.0.1:1/app")
    assert "s3cr3t" not in message


def test_default_names_follow_the_changes() -> None:
    from alembic.operations import ops

    column = sa.Column("views", sa.Integer)
    add = ops.ModifyTableOps("post", [ops.AddColumnOp("post", column)])
    create = ops.CreateTableOp("tag", [])
    assert default_name(ops.UpgradeOps([create]), first=True) == "initial"
    assert default_name(ops.UpgradeOps([add]), first=False) == "add_post_views"
    assert default_name(ops.UpgradeOps([create]), first=False) == "create_tag"
    assert default_name(ops.UpgradeOps([add, create]), first=False) == "add_post_views_and_more"


async def test_migration_statements_reach_the_query_hook(migrations: Migrations) -> None:
    await migrations.make()
    seen: list[str] = []
    with listening(lambda query: seen.append(query.sql)):
        await migrations.migrate()
    assert any(sql.lstrip().upper().startswith("CREATE TABLE POST") for sql in seen)
