"""The monitoring layer's framework migration: it creates exactly the alert rule table the model declares, with the
built-in "monitoring is not reporting" rule, and a project's autogenerate sees nothing of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

import fastmango.monitoring.alerts  # noqa: F401  (its table is in SQLModel.metadata)
from fastmango.db.migrations import Migrations
from fastmango.db.migrations.branches import FrameworkBranch
from fastmango.monitoring.alerts import NOT_REPORTING
from fastmango.monitoring.alerts_setup import MIGRATIONS
from tests.db.test_framework_migrations import differences
from tests.db.test_migrations import database_state, fresh_postgres_url  # noqa: F401  (fixture)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite3'}"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


def alert_metadata() -> sa.MetaData:
    metadata = sa.MetaData()
    SQLModel.metadata.tables["monitoring_alert_rule"].to_metadata(metadata)
    return metadata


def test_the_branch_owns_the_alert_rule_table() -> None:
    branch = FrameworkBranch.from_package(MIGRATIONS)
    assert branch.label == "fastmango_monitoring"
    assert "monitoring_alert_rule" in branch.tables(SQLModel.metadata)


async def test_the_migration_creates_what_the_model_declares_and_the_built_in_rule(
    tmp_path: Path, database_url: str
) -> None:
    metadata = alert_metadata()
    sa.Table("fm_note", metadata, sa.Column("id", sa.Integer, primary_key=True))
    migrations = Migrations(
        tmp_path / "migrations", database_url, metadata=metadata, framework=[FrameworkBranch.from_package(MIGRATIONS)]
    )
    steps = await migrations.migrate()
    assert [step.revision for step in steps] == ["fastmango_monitoring_0001"]
    assert differences(database_url, alert_metadata()) == []  # a model change without its migration shows here
    assert "monitoring_alert_rule" in database_state(database_url)

    revision = await migrations.make()
    assert revision is not None and revision.changes == ["create table fm_note"]  # the alert table is not the project's
    await migrations.migrate()
    assert await migrations.make() is None

    rows = _rows(database_url)
    assert [(r["name"], r["metric"], r["comparison"], r["threshold"], r["fire_on_no_data"]) for r in rows] == [
        (NOT_REPORTING, "processes", "<", 1.0, True)
    ]
    notifiers = rows[0]["notifiers"]
    assert (json.loads(notifiers) if isinstance(notifiers, str) else notifiers) == [{"kind": "log"}]

    await migrations.migrate("zero")
    assert "monitoring_alert_rule" not in database_state(database_url)


def _rows(url: str) -> list[dict[str, object]]:
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from fastmango.core.settings import normalize_database_url
    from tests.db.test_migrations import _in_thread

    async def read() -> list[dict[str, object]]:
        engine = create_async_engine(normalize_database_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                result = await conn.execute(sa.text("SELECT * FROM monitoring_alert_rule"))
                return [dict(row._mapping) for row in result]
        finally:
            await engine.dispose()

    rows: list[dict[str, object]] = _in_thread(read())
    return rows


async def test_an_app_with_alerts_wired_migrates_and_autogenerates_nothing(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastmango import FastMango
    from fastmango.monitoring.alerts_setup import install_alerts
    from fastmango.monitoring.plugin import MonitoringPlugin
    from tests.auth.conftest import make_settings

    monkeypatch.setattr(MonitoringPlugin, "migrations", MIGRATIONS, raising=False)  # as the plugin will declare it
    app = FastMango(settings=make_settings(database_url), configure_logging=False)
    install_alerts(app)
    migrations = Migrations.for_app(tmp_path / "migrations", app, database_url)
    assert "fastmango_monitoring" in [branch.label for branch in migrations.framework]
    steps = await migrations.migrate()
    assert "fastmango_monitoring_0001" in [step.revision for step in steps]
    assert "monitoring_alert_rule" in migrations.framework_tables
    revision = await migrations.make()
    changes = revision.changes if revision is not None else []
    assert not [change for change in changes if "monitoring_alert_rule" in change]  # the test models' tables may be
