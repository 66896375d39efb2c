"""What autogenerate found, in words: the summary ``makemigrations`` prints and the default revision name.

Alembic describes a schema change as a tree of operations (``CreateTableOp``, ``ModifyTableOps`` holding
``AddColumnOp``...). These helpers walk that tree so that ``makemigrations`` can say what it wrote, name
the revision like Django does (``initial``, ``add_post_views``) and write nothing when nothing changed.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import math
import re
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops

#: The most a default revision name may hold before it becomes ``<first>_and_more``.
_MAX_NAMED_CHANGES = 1


def leaf_operations(container: ops.OpContainer) -> Iterator[ops.MigrateOperation]:
    """Every operation in ``container``, with batch groups (``ModifyTableOps``) flattened."""
    for operation in container.ops:
        if isinstance(operation, ops.OpContainer):
            yield from leaf_operations(operation)
        else:
            yield operation


def describe(operation: ops.MigrateOperation) -> str:
    """One human line for an operation: ``create table post``, ``add column post.views``."""
    table = getattr(operation, "table_name", None)
    if isinstance(operation, ops.CreateTableOp):
        return f"create table {table}"
    if isinstance(operation, ops.DropTableOp):
        return f"drop table {table}"
    if isinstance(operation, ops.AddColumnOp):
        return f"add column {table}.{operation.column.name}"
    if isinstance(operation, ops.DropColumnOp):
        return f"drop column {table}.{operation.column_name}"
    if isinstance(operation, ops.AlterColumnOp):
        return f"alter column {table}.{operation.column_name}"
    if isinstance(operation, ops.CreateIndexOp):
        return f"create index {operation.index_name} on {table}"
    if isinstance(operation, ops.DropIndexOp):
        return f"drop index {operation.index_name} on {table}"
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", type(operation).__name__.removesuffix("Op")).lower()
    return f"{words} on {table}" if table else words


def _name_fragment(operation: ops.MigrateOperation) -> str:
    table = getattr(operation, "table_name", None) or ""
    if isinstance(operation, ops.CreateTableOp):
        return f"create_{table}"
    if isinstance(operation, ops.DropTableOp):
        return f"delete_{table}"
    if isinstance(operation, ops.AddColumnOp):
        return f"add_{table}_{operation.column.name}"
    if isinstance(operation, ops.DropColumnOp):
        return f"remove_{table}_{operation.column_name}"
    if isinstance(operation, ops.AlterColumnOp):
        return f"alter_{table}_{operation.column_name}"
    if isinstance(operation, ops.CreateIndexOp | ops.DropIndexOp):
        return f"index_{table}"
    return f"alter_{table}" if table else "auto"


def default_name(upgrade_ops: ops.UpgradeOps, *, first: bool) -> str:
    """A revision name from what changed: ``initial`` for the first one, else ``add_post_views`` and so on.

    Args:
        upgrade_ops: The operations autogenerate found.
        first: Whether this is the project's first revision.
    """
    if first:
        return "initial"
    fragments = list(dict.fromkeys(_name_fragment(operation) for operation in leaf_operations(upgrade_ops)))
    if not fragments:
        return "auto"
    if len(fragments) > _MAX_NAMED_CHANGES:
        return f"{fragments[0]}_and_more"
    return fragments[0]


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def server_default_for(column: sa.Column[Any]) -> sa.TextClause | None:
    """The database default that stands for ``column``'s Python default, or None when it has no scalar one.

    A column added NOT NULL to a table that has rows needs a value for those rows. A scalar default
    (``summary: str = ""``, ``views: int = 0``, ``draft: bool = True``, an enum member, a date) becomes
    ``server_default=sa.text(...)``, written as SQL that SQLite and PostgreSQL both read (``true`` and
    ``false`` for booleans), so a revision made on SQLite also runs on PostgreSQL. A ``default_factory``
    (a callable), ``None`` and values without one portable SQL spelling (datetimes, bytes, UUIDs...) give None.
    """
    default = column.default
    if default is None or not getattr(default, "is_scalar", False):
        return None
    value = getattr(default, "arg", None)
    sql: str | None = None
    if isinstance(value, bool):
        sql = "true" if value else "false"
    elif isinstance(value, enum.Enum):
        if isinstance(column.type, sa.Enum) and column.type.enum_class is not None:
            stored = getattr(column.type, "_valid_lookup", {}).get(value, value.name)  # names, or values_callable's
            sql = _sql_string(str(stored))
        elif isinstance(value.value, str | int):
            sql = _sql_string(value.value) if isinstance(value.value, str) else str(value.value)
    elif isinstance(value, int | decimal.Decimal) or (isinstance(value, float) and math.isfinite(value)):
        sql = repr(value) if isinstance(value, float) else str(value)
    elif isinstance(value, str):
        sql = _sql_string(value)
    elif isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        sql = _sql_string(value.isoformat())
    return sa.text(sql) if sql is not None else None


def add_server_defaults(upgrade_ops: ops.UpgradeOps) -> None:
    """Give each NOT NULL column added to an existing table the server default of its scalar Python default."""
    for container in [upgrade_ops, *[op for op in upgrade_ops.ops if isinstance(op, ops.ModifyTableOps)]]:
        for operation in container.ops:
            if not isinstance(operation, ops.AddColumnOp):
                continue
            column = operation.column
            if column.nullable or column.primary_key or column.server_default is not None:
                continue
            server_default = server_default_for(column)
            if server_default is not None:
                # A copy: the column belongs to the models' metadata, which must not change under the app.
                operation.column = column = column._copy()
                column.server_default = sa.DefaultClause(server_default)


def _warning(operation: ops.MigrateOperation) -> str | None:
    if not isinstance(operation, ops.AddColumnOp):
        return None
    column = operation.column
    if column.nullable or column.server_default is not None or column.primary_key:
        return None
    return (
        f"{operation.table_name}.{column.name} is added NOT NULL without a server default: the migration fails "
        "if the table has rows; give the column a default in the migration (server_default=...) or make it "
        "optional in the model"
    )


class RevisionDirectives:
    """An Alembic ``process_revision_directives`` hook: skip empty revisions, name unnamed ones, and give a NOT
    NULL column added to an existing table the server default of its scalar Python default.

    After the revision command ran, :attr:`changes` lists what the new revision does (empty when there was
    nothing to write) and :attr:`warnings` what may fail when it runs.

    Args:
        first: Whether the project has no revision yet (the new one is then called ``initial``).
    """

    def __init__(self, *, first: bool) -> None:
        self.first = first
        self.changes: list[str] = []
        self.warnings: list[str] = []

    def __call__(self, context: Any, revision: Any, directives: list[Any]) -> None:
        if not directives:
            return
        script = directives[0]
        upgrade_ops = script.upgrade_ops
        if upgrade_ops is None or upgrade_ops.is_empty():
            directives[:] = []
            return
        add_server_defaults(upgrade_ops)
        self.changes = [describe(operation) for operation in leaf_operations(upgrade_ops)]
        self.warnings = [
            warning for operation in leaf_operations(upgrade_ops) if (warning := _warning(operation)) is not None
        ]
        if not script.message:
            script.message = default_name(upgrade_ops, first=self.first)
