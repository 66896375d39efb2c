"""Adding a NOT NULL field to a table that has rows: scalar defaults become server defaults, and a migration the
database refuses is named, with its table and column, and leaves nothing behind. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime
import enum
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import registry

from fastmango.db import Field, Model
from fastmango.db.migrations import MigrationError, Migrations
from fastmango.db.migrations.autogen import server_default_for
from tests.db.test_migrations import _in_thread, database_state, database_url, fresh_postgres_url  # noqa: F401


class Status(enum.Enum):
    draft = "d"
    live = "l"


class Before(Model, registry=registry()):
    """The models before the change: their own registry, so nothing joins SQLModel.metadata."""


class After(Model, registry=registry()):
    """The same table with the new fields."""


class Required(Model, registry=registry()):
    """The same table with a new field that has no default."""


class PostBefore(Before, table=True):
    __tablename__ = "post"

    id: int | None = Field(default=None, primary_key=True)
    title: str


class PostAfter(After, table=True):
    __tablename__ = "post"

    id: int | None = Field(default=None, primary_key=True)
    title: str
    summary: str = ""
    quote: str = "it's"
    views: int = 0
    score: float = 1.5
    featured: bool = False
    pinned: bool = True
    day: datetime.date = datetime.date(2026, 1, 2)
    created_at: datetime.datetime | None = Field(default_factory=lambda: datetime.datetime.now(datetime.UTC))


class PostRequired(Required, table=True):
    __tablename__ = "post"

    id: int | None = Field(default=None, primary_key=True)
    title: str
    summary: str


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from fastmango.core.settings import normalize_database_url

    async def read() -> list[tuple[Any, ...]]:
        engine = create_async_engine(normalize_database_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return [tuple(row) for row in (await conn.execute(sa.text(sql))).all()]
        finally:
            await engine.dispose()

    result: list[tuple[Any, ...]] = _in_thread(read())
    return result


async def post_with_a_row(folder: Path, url: str) -> None:
    before = Migrations(folder, url, metadata=Before.metadata)
    await before.make()
    await before.migrate()
    database_state(url, "INSERT INTO post (id, title) VALUES (1, 'old')")


async def test_new_fields_with_scalar_defaults_migrate_a_table_that_has_rows(tmp_path: Path, database_url: str) -> None:  # noqa: F811
    await post_with_a_row(tmp_path / "migrations", database_url)
    after = Migrations(tmp_path / "migrations", database_url, metadata=After.metadata)

    revision = await after.make()

    assert revision is not None
    assert revision.warnings == []
    source = revision.path.read_text()
    assert "sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(), server_default=sa.text(" in source
    assert "sa.Column('created_at', fastmango.db.types.UTCDateTime(timezone=True), nullable=True)" in source
    await after.migrate()
    [row] = rows(database_url, "SELECT summary, quote, views, score, featured, pinned, day FROM post")
    assert row[:4] == ("", "it's", 0, 1.5)
    assert (bool(row[4]), bool(row[5]), str(row[6])) == (False, True, "2026-01-02")
    assert await after.make() is None
    assert not PostAfter.__table__.c.summary.server_default  # type: ignore[attr-defined]  # the models are unchanged


async def test_a_revision_made_on_sqlite_runs_on_postgresql(tmp_path: Path, fresh_postgres_url: str) -> None:  # noqa: F811
    sqlite_url = f"sqlite:///{tmp_path / 'dev.sqlite3'}"
    await post_with_a_row(tmp_path / "migrations", sqlite_url)
    assert await Migrations(tmp_path / "migrations", sqlite_url, metadata=After.metadata).make() is not None
    production = Migrations(tmp_path / "migrations", fresh_postgres_url, metadata=After.metadata)
    await production.migrate("1")
    database_state(fresh_postgres_url, "INSERT INTO post (id, title) VALUES (1, 'old')")
    await production.migrate()
    assert rows(fresh_postgres_url, "SELECT summary, featured, pinned, views FROM post") == [("", False, True, 0)]


async def test_a_field_without_default_keeps_the_warning_and_its_failure_names_revision_and_column(
    tmp_path: Path,
    database_url: str,  # noqa: F811
) -> None:
    folder = tmp_path / "migrations"
    await post_with_a_row(folder, database_url)
    required = Migrations(folder, database_url, metadata=Required.metadata)
    revision = await required.make()
    assert revision is not None
    assert "post.summary is added NOT NULL without a server default" in revision.warnings[0]
    source = revision.path.read_text()
    # A first operation that succeeds: the failure after it must take it back too (SQLite included).
    first = "def upgrade() -> None:\n    op.create_table('note', sa.Column('id', sa.Integer(), primary_key=True))\n"
    revision.path.write_text(source.replace("def upgrade() -> None:\n", first, 1))

    with pytest.raises(MigrationError) as caught:
        await required.migrate()

    message = str(caught.value)
    assert message.startswith(f"migration {revision.path.stem} failed on table post, column summary: ")
    assert "null" in message.lower()
    assert f"nothing was changed (the run was rolled back): fix {revision.path.name} (give summary a " in message
    assert "\n" not in message
    assert database_state(database_url) == {"alembic_version": ["version_num"], "post": ["id", "title"]}
    assert [s.applied for s in await required.status()] == [True, False]
    fixed = revision.path.read_text().replace("nullable=False)", "server_default='', nullable=False)", 1)
    revision.path.write_text(fixed)
    await required.migrate()
    assert rows(database_url, "SELECT title, summary FROM post") == [("old", "")]


def test_server_defaults_only_for_values_with_one_sql_spelling() -> None:
    def default(value: Any, type_: Any = sa.String()) -> str | None:
        server_default = server_default_for(sa.Column("c", type_, default=value))
        return None if server_default is None else server_default.text

    assert default(Status.live, sa.Enum(Status)) == "'live'"
    assert default(Status.live, sa.Enum(Status, values_callable=lambda e: [m.value for m in e])) == "'l'"
    assert default("") == "''"
    assert default(7) == "7"
    assert default(float("inf")) is None
    assert default(datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)) is None
    assert default(lambda: "made") is None
    assert default(b"raw") is None
