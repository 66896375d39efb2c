"""Framework migrations (fastmango.db.migrations.branches): fastmango's own tables migrate by themselves.

The auth and AI usage tables ship as Alembic branches inside fastmango; the project's revisions are based on
them and never hold their tables. A project made before framework migrations, whose first revision creates
these tables, keeps working: the branches are stamped once their tables exist.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import fastmango.ai.metering
import fastmango.api.history
import fastmango.auth.models
import fastmango.monitoring.alerts
import fastmango.tasks.events  # noqa: F401  (their tables are in SQLModel.metadata)
from fastmango.core.plugins import load_plugin
from fastmango.core.settings import DEFAULT_PLUGINS, normalize_database_url
from fastmango.db.migrations import Migrations
from fastmango.db.migrations.branches import FrameworkBranch, plugin_branches
from tests.db.test_migrations import _in_thread, database_state, fresh_postgres_url  # noqa: F401  (fixture)

LEGACY = Path(__file__).parent / "legacy"
FRAMEWORK_REVISIONS = {
    "fastmango_auth_0001",
    "fastmango_api_0001",
    "fastmango_tasks_0001",
    "fastmango_ai_0001",
    "fastmango_monitoring_0001",
}
# The legacy project's revision lacks their tables.
NEWER_THAN_LEGACY = {"fastmango_api_0001", "fastmango_tasks_0001", "fastmango_monitoring_0001"}
FRAMEWORK_TABLES = {
    "auth_user",
    "auth_group",
    "auth_permission",
    "auth_revoked_token",
    "auth_user_groups",
    "auth_user_permissions",
    "auth_group_permissions",
    "ai_usage",
    "api_history",
    "tasks_job_event",
    "monitoring_alert_rule",
}


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite3'}"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


def framework() -> list[FrameworkBranch]:
    return plugin_branches(load_plugin(path) for path in DEFAULT_PLUGINS)


def framework_metadata() -> sa.MetaData:
    metadata = sa.MetaData()
    for name in sorted(FRAMEWORK_TABLES):
        SQLModel.metadata.tables[name].to_metadata(metadata)
    return metadata


def differences(url: str, metadata: sa.MetaData) -> list[object]:
    async def compare() -> list[object]:
        engine = create_async_engine(normalize_database_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as conn:

                def run(sync: sa.Connection) -> list[object]:
                    context = MigrationContext.configure(sync, opts={"compare_type": True})
                    return list(compare_metadata(context, metadata))

                return await conn.run_sync(run)
        finally:
            await engine.dispose()

    result: list[object] = _in_thread(compare())
    return result


def test_the_default_plugins_bring_the_auth_api_and_ai_branches() -> None:
    branches = {branch.label: branch for branch in framework()}
    assert set(branches) == {
        "fastmango_auth",
        "fastmango_api",
        "fastmango_tasks",
        "fastmango_ai",
        "fastmango_monitoring",
    }
    assert branches["fastmango_api"].tables(SQLModel.metadata) == {"api_history"}
    assert branches["fastmango_auth"].tables(SQLModel.metadata) == {t for t in FRAMEWORK_TABLES if t.startswith("auth")}
    assert branches["fastmango_ai"].tables(SQLModel.metadata) == {"ai_usage"}
    assert branches["fastmango_tasks"].tables(SQLModel.metadata) == {"tasks_job_event"}
    assert branches["fastmango_monitoring"].tables(SQLModel.metadata) == {"monitoring_alert_rule"}


async def test_framework_migrations_create_exactly_what_the_models_declare(tmp_path: Path, database_url: str) -> None:
    migrations = Migrations(tmp_path / "migrations", database_url, framework=framework())
    steps = await migrations.migrate()
    assert {step.revision for step in steps} == FRAMEWORK_REVISIONS
    assert set(database_state(database_url)) >= FRAMEWORK_TABLES
    # A model change in fastmango without its migration would show up here.
    assert differences(database_url, framework_metadata()) == []


async def test_project_revisions_leave_framework_tables_out_and_merge_the_branches(
    tmp_path: Path, database_url: str
) -> None:
    metadata = framework_metadata()  # framework tables and a project table, as in a real project
    sa.Table("fm_note", metadata, sa.Column("id", sa.Integer, primary_key=True))
    migrations = Migrations(tmp_path / "migrations", database_url, metadata=metadata, framework=framework())
    await migrations.migrate()
    revision = await migrations.make()
    assert revision is not None
    assert revision.changes == ["create table fm_note"]
    source = revision.path.read_text()
    assert "down_revision: str | Sequence[str] | None = ('fastmango_" in source
    assert "auth_user" not in source
    await migrations.migrate()
    assert "fm_note" in database_state(database_url)
    assert await migrations.make() is None  # nothing left: framework tables are not the project's

    await migrations.migrate("-1")
    tables = database_state(database_url)
    assert "fm_note" not in tables
    assert set(tables) >= FRAMEWORK_TABLES  # a step back is the project's, the framework stays
    await migrations.migrate("zero")
    assert set(database_state(database_url)) <= {"alembic_version"}


async def test_a_project_whose_first_revision_holds_framework_tables_gets_the_branches_stamped(
    tmp_path: Path, database_url: str
) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(LEGACY, folder, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    migrations = Migrations(folder, database_url, framework=framework())

    steps = await migrations.migrate()  # a fresh database: the project's revision creates them, then stamps
    stamped = [str(step) for step in steps if step.revision.startswith("fastmango_") and "marked" in step.message]
    assert stamped == [
        "  Applied fastmango_auth_0001  initial (its tables exist already: marked as applied)",
        "  Applied fastmango_ai_0001  initial (its tables exist already: marked as applied)",
    ]
    assert {step.revision for step in steps} >= NEWER_THAN_LEGACY  # newer than the project: they run
    assert all(status.applied for status in await migrations.status())
    assert await migrations.migrate() == []

    await migrations.migrate("zero")  # the project's revision drops them; the branches' downgrades tolerate it
    assert set(database_state(database_url)) <= {"alembic_version"}
    await migrations.migrate()
    assert set(database_state(database_url)) >= FRAMEWORK_TABLES


async def test_a_deployed_database_of_such_a_project_is_stamped_without_running_anything(
    tmp_path: Path, database_url: str
) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(LEGACY, folder, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    await Migrations(folder, database_url).migrate()  # migrated before framework branches existed
    database_state(database_url, "INSERT INTO auth_group (name) VALUES ('kept')")

    steps = await Migrations(folder, database_url, framework=framework()).migrate()

    assert {step.revision for step in steps} == FRAMEWORK_REVISIONS
    # The branches whose tables the project's revision made are stamped; the history table is new: created.
    assert all("marked as applied" in step.message for step in steps if step.revision not in NEWER_THAN_LEGACY)
    rows = database_state(database_url)
    assert "auth_group" in rows
