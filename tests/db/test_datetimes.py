"""``datetime`` fields of Model tables: stored in UTC, returned aware, naive values refused, on both databases."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import NaiveDatetime
from sqlalchemy import text
from sqlmodel import SQLModel

from fastmango import db as fdb
from fastmango.db import Field, Model, NaiveDatetimeError, UTCDateTime
from fastmango.db.migrations import Migrations
from fastmango.testing import capture_queries
from tests.db.test_migrations import database_url, fresh_postgres_url  # noqa: F401  (fixtures)

PLUS_TWO = datetime.timezone(datetime.timedelta(hours=2))
AT = datetime.datetime(2026, 3, 1, 12, 30, tzinfo=PLUS_TWO)  # 10:30 UTC
NAIVE = datetime.datetime(2026, 3, 1, 12, 30)


class Stamped(Model, table=True):
    __tablename__ = "dt_stamped"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime.datetime
    maybe: datetime.datetime | None = None
    local: NaiveDatetime | None = None
    chosen: datetime.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class Careless(Model, table=True):
    __tablename__ = "dt_careless"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime.datetime = Field(default_factory=datetime.datetime.now)


class Timestamped(Model):
    created_at: datetime.datetime = Field(default_factory=lambda: datetime.datetime.now(datetime.UTC), index=True)


class Article(Timestamped, table=True):
    __tablename__ = "dt_article"

    id: int | None = Field(default=None, primary_key=True)


class Note(Timestamped, table=True):
    __tablename__ = "dt_note"

    id: int | None = Field(default=None, primary_key=True)


TABLES = [Stamped.__table__, Careless.__table__, Article.__table__]  # type: ignore[attr-defined]


@pytest.fixture
async def tables(db: fdb.Database) -> AsyncIterator[fdb.Database]:
    async with db.engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=TABLES)
    try:
        yield db
    finally:
        async with db.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.drop_all, tables=TABLES)


def test_datetime_fields_get_utc_columns_unless_they_name_a_type() -> None:
    columns = Stamped.__table__.c  # type: ignore[attr-defined]
    assert type(columns.at.type) is UTCDateTime
    assert type(columns.maybe.type) is UTCDateTime
    assert columns.maybe.nullable and not columns.at.nullable
    assert type(columns.local.type) is sa.DateTime and not columns.local.type.timezone
    assert type(columns.chosen.type) is sa.DateTime


def test_tables_sharing_a_base_class_field_each_name_their_own() -> None:
    article, note = Article.__table__.c.created_at, Note.__table__.c.created_at  # type: ignore[attr-defined]
    assert article.type is not note.type
    assert (article.type.field, note.type.field) == ("Article.created_at", "Note.created_at")
    assert article.index


def test_comparing_with_a_timedelta_binds_an_interval() -> None:
    expression = Stamped.__table__.c.at + datetime.timedelta(hours=1)  # type: ignore[attr-defined]
    assert isinstance(expression.right.type, sa.Interval)


async def test_aware_values_are_stored_in_utc_and_come_back_aware_utc(tables: fdb.Database) -> None:
    saved = await Stamped.objects.create(at=AT, maybe=AT.astimezone(datetime.UTC))

    loaded = await Stamped.objects.get(pk=saved.pk)

    assert loaded.at == AT
    assert loaded.at.tzinfo is datetime.UTC
    assert (loaded.at.hour, loaded.at.minute) == (10, 30)
    assert loaded.maybe == AT
    assert await Stamped.objects.values_list("at", flat=True) == [AT]
    assert (await Stamped.objects.values("at"))[0]["at"].tzinfo is datetime.UTC
    assert await Stamped.objects.filter(at__gte=datetime.datetime(2026, 3, 1, 10, 30, tzinfo=datetime.UTC)).count() == 1
    assert await Stamped.objects.filter(at__gt=AT).count() == 0
    epoch = "strftime('%s', at)" if tables.dialect == "sqlite" else "EXTRACT(EPOCH FROM at)"
    async with tables.engine.connect() as conn:
        stored = (await conn.execute(text(f"SELECT {epoch} FROM dt_stamped"))).scalar_one()
    assert int(float(stored)) == int(AT.timestamp())


async def test_naive_default_is_refused_naming_model_and_field_before_any_sql(tables: fdb.Database) -> None:
    with capture_queries() as queries, pytest.raises(NaiveDatetimeError) as caught:
        await Careless.objects.create()

    message = str(caught.value)
    assert message.startswith("Careless.created_at got a naive datetime 20")
    assert "datetime.now(UTC)" in message
    assert "\n" not in message
    assert list(queries) == []
    assert await Careless.objects.count() == 0


async def test_naive_values_are_refused_when_assigned_and_in_statements(tables: fdb.Database) -> None:
    saved = await Stamped.objects.create(at=AT)
    with pytest.raises(NaiveDatetimeError, match=r"^Stamped\.at got a naive datetime 2026-03-01 12:30:00; "):
        Stamped(at=NAIVE)
    with pytest.raises(NaiveDatetimeError, match=r"^Stamped\.maybe got a naive datetime"):
        saved.maybe = NAIVE
    with pytest.raises(NaiveDatetimeError, match=r"^Stamped\.at got a naive datetime"):
        await Stamped.objects.update(at=NAIVE)
    with pytest.raises(NaiveDatetimeError, match=r"^Stamped\.at got a naive datetime"):
        await Stamped.objects.filter(at__lt=NAIVE).count()

    assert await Stamped.objects.values_list("at", flat=True) == [AT]


async def test_naive_datetime_fields_keep_naive_values(tables: fdb.Database) -> None:
    saved = await Stamped.objects.create(at=AT, local=NAIVE)
    assert (await Stamped.objects.get(pk=saved.pk)).local == NAIVE


async def test_autogenerate_writes_utc_datetime_and_sees_no_change_after(
    tmp_path: Path,
    database_url: str,  # noqa: F811
) -> None:
    metadata = sa.MetaData()
    Stamped.__table__.to_metadata(metadata)  # type: ignore[attr-defined]
    migrations = Migrations(tmp_path / "migrations", database_url, metadata=metadata)

    revision = await migrations.make()

    assert revision is not None
    source = revision.path.read_text()
    assert "sa.Column('at', fastmango.db.types.UTCDateTime(timezone=True), nullable=False)" in source
    assert "sa.Column('local', sa.DateTime(), nullable=True)" in source
    await migrations.migrate()
    assert await migrations.make() is None
