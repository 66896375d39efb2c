"""Checks of the models (``fastmango check``): unapplied migrations (fastmango.W101), model changes without a
migration (E101), a database the check cannot read (W102), migrated tables without their permissions (W103).

They read the database (scope ``database``): ``fastmango dev`` runs them from a thread once it serves. Each opens
an engine of its own and disposes of it, so a running app's database is left alone.
"""

from __future__ import annotations

import logging
from typing import Any

from fastmango.core.system_checks import CheckContext, Finding, register

#: The most changes or tables named in one finding; the rest are counted.
SHOWN = 5
#: The ids :func:`check_migrations` reports; ``fastmango dev`` says the same with its migration warnings.
MIGRATION_IDS = frozenset({"fastmango.W101", "fastmango.E101", "fastmango.W102"})


@register("models", scope="database")
async def check_migrations(context: CheckContext) -> list[Finding]:
    """W101: revisions not applied to the database; E101: model changes that no revision holds."""
    if context.migrations_dir is None:
        return []
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines ("Context impl SQLiteImpl") are noise
    from fastmango.db.migrations import Migrations
    from fastmango.db.migrations.check import _in_memory, model_changes

    migrations = Migrations.for_app(context.migrations_dir, context.app)
    if _in_memory(migrations.url):
        return []
    try:
        statuses = await migrations.status()
        unapplied = [f"{s.branch}:{s.name}" if s.branch else s.name for s in statuses if not s.applied]
        if unapplied:
            return [
                Finding(
                    "fastmango.W101",
                    "warning",
                    f"the database lacks {len(unapplied)} migration(s) ({_shown(unapplied)})",
                    hint="run fastmango migrate",
                    obj=unapplied[0],
                )
            ]
        changes = await model_changes(migrations)
    except Exception as exc:
        return [_unreadable(exc)]
    if not changes:
        return []
    return [
        Finding(
            "fastmango.E101",
            "error",
            f"the models have changes that are in no migration ({_shown(changes)})",
            hint="run fastmango makemigrations, then fastmango migrate",
        )
    ]


@register("models", scope="database")
async def check_permissions(context: CheckContext) -> list[Finding]:
    """W103: a migrated table of a model lacks some of its view/add/change/delete permissions."""
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from fastmango.auth.models import Permission
    from fastmango.auth.permissions import permission_codenames, table_models
    from fastmango.db.migrations.check import _in_memory

    url = context.settings.database_url
    if _in_memory(url):
        return []
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            tables = set(await connection.run_sync(lambda sync: sa_inspect(sync).get_table_names()))
            if Permission.__tablename__ not in tables:
                return []  # auth is not migrated yet: W101 says so
            column: Any = Permission.__table__.c.codename  # type: ignore[attr-defined]
            existing = set((await connection.execute(select(column))).scalars())
    except Exception as exc:
        return [_unreadable(exc)]
    finally:
        await engine.dispose()
    findings = []
    for model in table_models():
        if model.__tablename__ not in tables:
            continue
        missing = [name for name in permission_codenames(model) if name not in existing]
        if missing:
            findings.append(
                Finding(
                    "fastmango.W103",
                    "warning",
                    f"the table {model.__tablename__} has no {', '.join(missing)} permission(s): "
                    "require_permission and the admin refuse everyone but superusers",
                    hint="run fastmango migrate (it creates the permissions of the migrated tables)",
                    obj=model.__tablename__,
                )
            )
    return findings


def _unreadable(exc: Exception) -> Finding:
    return Finding(
        "fastmango.W102",
        "warning",
        f"could not read the database to check the models: {exc}",
        hint="start the database (or fix DATABASE_URL), then run fastmango check again",
    )


def _shown(items: list[str]) -> str:
    text = ", ".join(items[:SHOWN])
    return text + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")
