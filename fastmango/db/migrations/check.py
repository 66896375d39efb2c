"""What ``fastmango dev`` says about the database at start: unapplied migrations, model changes without one.

Django's ``runserver`` says "You have 3 unapplied migration(s)" before the first request fails with "no such
column". :func:`migration_warnings` returns those lines for a :class:`Migrations`; it only reads (the
revision files, the version table and the schema) and uses the public face of :class:`Migrations`
(``status()``, ``metadata``, ``include_object``, ``url``), so it holds no lock and changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from fastmango.db import hook

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from fastmango.db.migrations.runner import Migrations

#: The most changes named in the warning; the rest are counted.
SHOWN_CHANGES = 5


async def migration_warnings(migrations: Migrations) -> list[str]:
    """The warnings to print about ``migrations``' database; empty when it is up to date.

    With unapplied revisions (the project's or a framework branch's) the models are not compared: the
    database lacks what those revisions add, which is no change to make a migration for.

    Raises:
        MigrationError: the database cannot be reached or the revision files do not load.
    """
    if _in_memory(migrations.url):
        return []  # another connection would see another, empty database
    unapplied = [status for status in await migrations.status() if not status.applied]
    if unapplied:
        return [f"You have {len(unapplied)} unapplied migration(s). Run fastmango migrate to apply them."]
    changes = await model_changes(migrations)
    if not changes:
        return []
    shown = ", ".join(changes[:SHOWN_CHANGES])
    if len(changes) > SHOWN_CHANGES:
        shown += f" and {len(changes) - SHOWN_CHANGES} more"
    return [f"Your models have changes that are not in a migration yet ({shown}). Run fastmango makemigrations."]


async def model_changes(migrations: Migrations) -> list[str]:
    """What autogenerate would put in a new revision, one phrase each (``create table x``, ``add column y.z``).

    Framework tables are left out with ``migrations.include_object``, as ``makemigrations`` leaves them out:
    their own branches migrate them.
    """
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(migrations.url, poolclass=NullPool)
    hook.install(engine.sync_engine)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_compare, migrations)
    finally:
        await engine.dispose()
    return [phrase for difference in differences for phrase in _describe(difference)]


def _compare(connection: Connection, migrations: Migrations) -> list[Any]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    include_object = getattr(migrations, "include_object", None)
    options: dict[str, Any] = {"compare_type": True}
    if include_object is not None:
        options["include_object"] = include_object
    context = MigrationContext.configure(connection, opts=options)
    return list(compare_metadata(context, migrations.metadata))


def _describe(difference: Any) -> list[str]:
    """Phrases for one entry of ``compare_metadata``: a tuple, or a list of column modifications."""
    if isinstance(difference, list):
        columns = {f"{entry[2]}.{entry[3]}" for entry in difference if len(entry) > 3}
        return [f"alter column {column}" for column in sorted(columns)]
    kind = difference[0]
    if kind in {"add_table", "remove_table"}:
        verb = "create" if kind == "add_table" else "drop"
        return [f"{verb} table {difference[1].name}"]
    if kind in {"add_column", "remove_column"}:
        verb = "add" if kind == "add_column" else "drop"
        return [f"{verb} column {difference[2]}.{difference[3].name}"]
    if kind in {"add_index", "remove_index"}:
        verb = "create" if kind == "add_index" else "drop"
        return [f"{verb} index {difference[1].name}"]
    if kind in {"add_constraint", "remove_constraint", "add_fk", "remove_fk"}:
        verb = "add" if kind.startswith("add") else "drop"
        constraint = difference[1]
        name = constraint.name or f"on {constraint.table.name}"
        return [f"{verb} {'foreign key' if kind.endswith('fk') else 'constraint'} {name}"]
    return [kind.replace("_", " ")]


def _in_memory(url: str) -> bool:
    database = make_url(url).database
    return url.startswith("sqlite") and (not database or database == ":memory:" or "mode=memory" in url)
