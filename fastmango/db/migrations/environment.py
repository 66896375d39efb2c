"""The body of the ``env.py`` that fastmango ships: configure Alembic's context and run the migrations.

Alembic executes ``env.py`` for every command. fastmango's ``env.py`` is two lines that call
:func:`run_environment`; everything it needs arrives in ``config.attributes``, set by
:class:`fastmango.db.migrations.Migrations`:

- ``"fastmango"``: an :class:`EnvironmentOptions` (the metadata, the URL, a callback per applied step);
- ``"connection"``: the synchronous face of an async connection (``AsyncConnection.run_sync`` hands it over),
  absent in offline (``--sql``) mode.

So the project never holds an ``env.py`` of its own, and nothing in it has to be edited to find the models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CHAR, Enum, MetaData, String
from sqlalchemy.engine import make_url

from fastmango.core.errors import ImproperlyConfigured


@dataclass(frozen=True)
class Step:
    """One migration applied or reverted.

    Attributes:
        revision: The revision id.
        message: The revision's message (first line of its docstring).
        upgrade: True when it was applied, False when it was reverted.
    """

    revision: str
    message: str
    upgrade: bool

    def __str__(self) -> str:
        verb = "Applied" if self.upgrade else "Reverted"
        return f"  {verb} {self.revision}  {self.message}".rstrip()


@dataclass(frozen=True)
class EnvironmentOptions:
    """What :func:`run_environment` needs from the caller.

    Attributes:
        metadata: The tables autogenerate compares with the database (``SQLModel.metadata``).
        url: The database URL; offline mode uses it only for the SQL dialect.
        on_step: Called after each migration step, in the migration's transaction.
        include_object: Alembic's ``include_object`` hook for autogenerate (framework tables are left out of
            the project's revisions), or None to compare every table.
    """

    metadata: MetaData
    url: str
    on_step: Callable[[Step], None] | None = None
    include_object: Callable[..., bool] | None = None


def _on_version_apply(options: EnvironmentOptions) -> Callable[..., None]:
    def callback(*, ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
        if options.on_step is None or step.is_stamp or step.up_revision_id is None:
            return
        script = step.revision_map.get_revision(step.up_revision_id)
        message = (getattr(script, "doc", "") or "").strip()
        options.on_step(Step(revision=step.up_revision_id, message=message, upgrade=step.is_upgrade))

    return callback


_SKIP = (Enum, CHAR)


def compare_type(
    context: Any, inspected_column: Any, metadata_column: Any, inspected_type: Any, metadata_type: Any
) -> bool | None:
    """Alembic's type comparison, plus string length changes it does not see on its own.

    Alembic treats ``VARCHAR`` and ``VARCHAR(200)`` as equal (it ignores a length the database does not
    report), so adding ``max_length=200`` to a field, or removing it, would produce no migration.

    Returns:
        True when the lengths differ; None to let Alembic compare as usual.
    """
    strings = isinstance(inspected_type, String) and isinstance(metadata_type, String)
    # Enum has a computed length, and CHAR means CHAR(1) when it has none: leave both to Alembic.
    if not strings or isinstance(inspected_type, _SKIP) or isinstance(metadata_type, _SKIP):
        return None
    if (inspected_type.length or None) != (metadata_type.length or None):
        return True
    return None


def run_environment(context: Any) -> None:
    """Configure Alembic's ``context`` from ``context.config.attributes`` and run the migrations.

    ``render_as_batch`` is always on: on SQLite, column changes need a table copy ("batch mode"); on
    PostgreSQL the batch block emits plain ``ALTER TABLE``. Revisions generated on a developer's SQLite
    therefore also run on the production PostgreSQL.

    Args:
        context: The ``alembic.context`` module proxy (an ``EnvironmentContext``).

    Raises:
        ImproperlyConfigured: ``env.py`` was run by something other than fastmango (the plain ``alembic`` CLI).
    """
    attributes = context.config.attributes
    options = attributes.get("fastmango")
    if not isinstance(options, EnvironmentOptions):
        raise ImproperlyConfigured(
            "fastmango's migration environment runs through the fastmango CLI: use `fastmango makemigrations` "
            "and `fastmango migrate` instead of `alembic`"
        )
    common: dict[str, Any] = {
        "target_metadata": options.metadata,
        "render_as_batch": True,
        "compare_type": compare_type,
        "on_version_apply": [_on_version_apply(options)],
    }
    if options.include_object is not None:
        common["include_object"] = options.include_object
    if context.is_offline_mode():
        context.configure(
            dialect_name=make_url(options.url).get_backend_name(),
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            **common,
        )
    else:
        connection = attributes.get("connection")
        if connection is None:
            raise ImproperlyConfigured("no database connection was handed to the migration environment")
        context.configure(connection=connection, **common)
    with context.begin_transaction():
        context.run_migrations()
