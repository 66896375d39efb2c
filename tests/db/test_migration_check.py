"""fastmango.db.migrations.check: the unapplied-migrations and model-changes warnings of ``fastmango dev``."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from fastmango.db.migrations import Migrations
from fastmango.db.migrations.check import migration_warnings
from tests.db.test_framework_migrations import framework, framework_metadata
from tests.db.test_migrations import fresh_postgres_url, post_table  # noqa: F401  (fixture)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite3'}"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


@pytest.fixture
def metadata() -> sa.MetaData:
    metadata = sa.MetaData()
    post_table(metadata)
    return metadata


@pytest.fixture
def migrations(tmp_path: Path, database_url: str, metadata: sa.MetaData) -> Migrations:
    return Migrations(tmp_path / "migrations", database_url, metadata=metadata)


async def test_a_database_with_every_migration_and_no_model_change_has_no_warning(migrations: Migrations) -> None:
    await migrations.make()
    await migrations.migrate()
    assert await migration_warnings(migrations) == []


async def test_unapplied_migrations_are_counted(migrations: Migrations, metadata: sa.MetaData) -> None:
    await migrations.make()
    await migrations.migrate()
    metadata.tables["post"].append_column(sa.Column("views", sa.Integer, nullable=True))
    await migrations.make()
    sa.Table("tag", metadata, sa.Column("id", sa.Integer, primary_key=True))
    warnings = await migration_warnings(migrations)
    # The models are not compared while the database is behind: "tag" is not reported yet.
    assert warnings == ["You have 1 unapplied migration(s). Run fastmango migrate to apply them."]


async def test_model_changes_without_a_migration_are_named(migrations: Migrations, metadata: sa.MetaData) -> None:
    await migrations.make()
    await migrations.migrate()
    metadata.tables["post"].append_column(sa.Column("views", sa.Integer, nullable=True))
    sa.Table("tag", metadata, sa.Column("id", sa.Integer, primary_key=True))
    [warning] = await migration_warnings(migrations)
    assert warning.startswith("Your models have changes that are not in a migration yet (")
    assert warning.endswith("). Run fastmango makemigrations.")
    assert "create table tag" in warning
    assert "add column post.views" in warning


async def test_a_project_without_migrations_is_told_to_make_them(migrations: Migrations) -> None:
    assert await migration_warnings(migrations) == [
        "Your models have changes that are not in a migration yet (create table post). Run fastmango makemigrations."
    ]


async def test_past_five_changes_the_rest_are_counted(migrations: Migrations, metadata: sa.MetaData) -> None:
    for number in range(6):
        sa.Table(f"extra{number}", metadata, sa.Column("id", sa.Integer, primary_key=True))
    [warning] = await migration_warnings(migrations)
    assert "and 2 more)" in warning


async def test_framework_tables_are_not_model_changes_once_their_branches_are_applied(
    tmp_path: Path, database_url: str
) -> None:
    metadata = framework_metadata()
    post_table(metadata)
    migrations = Migrations(tmp_path / "migrations", database_url, metadata=metadata, framework=framework())
    unapplied = await migration_warnings(migrations)
    assert len(unapplied) == 1
    assert unapplied[0].startswith("You have ")
    assert unapplied[0].endswith(" unapplied migration(s). Run fastmango migrate to apply them.")
    await migrations.migrate()  # the framework branches
    await migrations.make()
    await migrations.migrate()
    assert await migration_warnings(migrations) == []
    # A framework table that differs from its model is the framework's to migrate, not the project's.
    metadata.tables["auth_user"].append_column(sa.Column("nickname", sa.String(20), nullable=True))
    assert await migration_warnings(migrations) == []


async def test_an_in_memory_database_is_not_checked(tmp_path: Path, metadata: sa.MetaData) -> None:
    migrations = Migrations(tmp_path / "migrations", "sqlite:///:memory:", metadata=metadata)
    assert await migration_warnings(migrations) == []
