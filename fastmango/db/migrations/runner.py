"""Run Alembic for a project: autogenerate revisions, migrate up and down, list them, print their SQL.

Alembic's command API is synchronous; fastmango's engine is async. Each online operation opens one
connection on an async engine and hands its synchronous face to Alembic with ``AsyncConnection.run_sync``
(Alembic's "programmatic API use with asyncio" recipe). The ``env.py`` Alembic executes is the one inside
this package (``alembic_env/``); the project's ``migrations/`` folder holds only revision files.
"""

from __future__ import annotations

import io
import re
from argparse import Namespace
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from fastmango.core.errors import FastMangoError, ImproperlyConfigured
from fastmango.core.lazy import require
from fastmango.core.settings import mask_url, normalize_database_url
from fastmango.db.migrations.autogen import RevisionDirectives
from fastmango.db.migrations.environment import EnvironmentOptions, Step

#: The Alembic script directory fastmango ships: its ``env.py`` and ``script.py.mako``.
ENVIRONMENT_DIR = Path(__file__).parent / "alembic_env"

#: Revision files are numbered like Django's: ``0002_3f2a1b4c5d6e_add_post_views.py``. The number only sorts
#: the folder for reading; Alembic orders revisions by ``down_revision``, so two branches' 0002s coexist.
FILE_TEMPLATE = "{number:04d}_%(rev)s_%(slug)s"

_RELATIVE = re.compile(r"^[+-]\d+$")
_NUMBER = re.compile(r"^\d{1,4}$")
T = TypeVar("T")


class MigrationError(FastMangoError):
    """A migration command cannot do what was asked. The message says why and what to run instead."""


@dataclass(frozen=True)
class NewRevision:
    """A revision file ``makemigrations`` wrote.

    Attributes:
        revision: The revision id.
        message: Its message (``initial``, ``add_post_views`` or the one given with ``-m``).
        path: The file.
        changes: What it does, one line per operation (``create table post``).
        warnings: What may fail when it runs and should be checked in the file (a NOT NULL column added
            without a server default fails on a table that has rows).
    """

    revision: str
    message: str
    path: Path
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MigrationStatus:
    """A revision and whether the database has it.

    Attributes:
        revision: The revision id.
        message: Its message.
        applied: Whether the database is at this revision or past it.
        name: Its file name without ``.py`` (``0002_9a8b7c6d5e4f_add_post_views``).
    """

    revision: str
    message: str
    applied: bool
    name: str = ""


class Migrations:
    """A project's migrations folder and the database it migrates.

    Args:
        directory: The folder of revision files (``Project.migrations_dir``); created by :meth:`make`.
        database_url: The database to migrate; ``sqlite://`` and ``postgresql://`` get their async drivers.
        metadata: The tables autogenerate compares with the database; ``SQLModel.metadata`` by default, which
            every ``fastmango.db.Model`` and ``SQLModel, table=True`` class registers into.

    Raises:
        ImproperlyConfigured: the URL is not a supported database URL.
    """

    def __init__(self, directory: Path, database_url: str, *, metadata: MetaData | None = None) -> None:
        self.directory = Path(directory)
        try:
            self.url = normalize_database_url(database_url)
        except ValueError as exc:
            raise ImproperlyConfigured(f"DATABASE_URL {exc}") from exc
        if metadata is None:
            from sqlmodel import SQLModel

            metadata = SQLModel.metadata
        self.metadata = metadata

    def config(self, *, on_step: Callable[[Step], None] | None = None, output: io.StringIO | None = None) -> Config:
        """An Alembic ``Config`` for this project: the packaged ``env.py``, the project's revision folder."""
        config = Config(output_buffer=output, cmd_opts=Namespace(quiet=True))
        config.set_main_option("script_location", _escape(str(ENVIRONMENT_DIR)))
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", _escape(str(self.directory)))
        config.attributes["fastmango"] = EnvironmentOptions(metadata=self.metadata, url=self.url, on_step=on_step)
        return config

    @property
    def scripts(self) -> ScriptDirectory:
        """Alembic's view of the revision files.

        Raises:
            MigrationError: the migrations folder does not exist yet.
        """
        if not self.directory.is_dir():
            raise MigrationError(f"no migrations folder at {self.directory}; run `fastmango makemigrations` first")
        return ScriptDirectory.from_config(self.config())

    def revisions(self) -> list[Script]:
        """Every revision, oldest first (empty when there is no migrations folder)."""
        if not self.directory.is_dir():
            return []
        with _alembic_errors():
            return list(reversed(list(self.scripts.walk_revisions())))

    async def status(self) -> list[MigrationStatus]:
        """Every revision, oldest first, with whether the database has it."""
        revisions = self.revisions()
        applied = await self._run(lambda connection: self._applied(_current_heads(connection)))
        return [MigrationStatus(r.revision, r.doc or "", r.revision in applied, Path(r.path).stem) for r in revisions]

    async def make(self, message: str | None = None) -> NewRevision | None:
        """Autogenerate a revision from the difference between the models and the database.

        The database must have every existing revision applied (autogenerate compares against it).

        Args:
            message: The revision's message; by default one is derived from the changes (``add_post_views``).

        Returns:
            The revision written, or None when the models match the database (nothing is written then).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        scripts = self.scripts
        existing = self.revisions()
        hook = RevisionDirectives(first=not existing)
        config = self.config()
        config.set_main_option("file_template", _escape(FILE_TEMPLATE.format(number=_next_number(existing))))

        def generate(connection: Connection) -> Any:
            current = _current_heads(connection)
            self._applied(current)  # the database may be at a revision this folder does not have
            if set(current) != set(scripts.get_heads()):
                raise MigrationError(
                    "the database does not have every migration applied; run `fastmango migrate` before "
                    "`fastmango makemigrations`"
                )
            config.attributes["connection"] = connection
            return command.revision(config, message=message, autogenerate=True, process_revision_directives=hook)

        script = await self._run(generate)
        if not isinstance(script, Script):
            return None
        return NewRevision(script.revision, script.doc or "", Path(script.path), hook.changes, hook.warnings)

    async def migrate(self, target: str = "head", *, on_step: Callable[[Step], None] | None = None) -> list[Step]:
        """Bring the database to ``target``, upgrading or downgrading as needed.

        Args:
            target: ``head`` (the default), ``zero`` (undo everything), ``-1`` / ``+2`` (relative), a
                revision id (or a unique prefix of one), or a file number (``2`` or ``0002``).
            on_step: Called after each step, e.g. to print it as it happens.

        Returns:
            The steps taken, in order (empty when the database was already there).

        Raises:
            MigrationError: no migrations folder, an unknown revision, or a migration failed in the database.
        """
        scripts = self.scripts
        steps: list[Step] = []

        def record(step: Step) -> None:
            steps.append(step)
            if on_step is not None:
                on_step(step)

        config = self.config(on_step=record)

        def run(connection: Connection) -> None:
            applied = self._applied(_current_heads(connection))
            direction, destination = self._plan(scripts, target.strip(), applied)
            if direction == "downgrade" and not applied:
                return
            config.attributes["connection"] = connection
            if direction == "upgrade":
                command.upgrade(config, destination)
            else:
                command.downgrade(config, destination)

        await self._run(run)
        return steps

    def sql(self, revision: str, *, backwards: bool = False) -> str:
        """The SQL of one revision (Alembic's offline mode); nothing is run and no database is needed.

        Args:
            revision: A revision id (or a unique prefix of one), or a file number (``0002``).
            backwards: The SQL of its downgrade instead.
        """
        script = self._resolve(self.scripts, revision)
        down = script.down_revision
        if isinstance(down, tuple | list):
            raise MigrationError(f"{script.revision} merges several revisions; its SQL cannot be shown alone")
        output = io.StringIO()
        config = self.config(output=output)
        with _alembic_errors():
            if backwards:
                command.downgrade(config, f"{script.revision}:{down or 'base'}", sql=True)
            else:
                command.upgrade(config, f"{down}:{script.revision}" if down else script.revision, sql=True)
        return output.getvalue()

    def _applied(self, heads: tuple[str, ...]) -> set[str]:
        if not heads:
            return set()
        scripts = self.scripts
        for head in heads:
            try:
                scripts.get_revision(head)
            except (CommandError, RevisionError) as exc:
                raise MigrationError(
                    f"the database is at revision {head!r}, which is not in {self.directory}; restore that "
                    "migration file, or check DATABASE_URL"
                ) from exc
        return {script.revision for script in scripts.iterate_revisions(heads, "base")}

    def _plan(self, scripts: ScriptDirectory, target: str, applied: set[str]) -> tuple[str, str]:
        if target in {"zero", "base"}:
            return "downgrade", "base"
        if target in {"head", "heads"}:
            return "upgrade", "heads"
        if _RELATIVE.match(target):
            return ("downgrade" if target.startswith("-") else "upgrade"), target
        revision = self._resolve(scripts, target).revision
        return ("downgrade" if revision in applied else "upgrade"), revision

    def _resolve(self, scripts: ScriptDirectory, revision: str) -> Script:
        if _NUMBER.match(revision):
            prefix = f"{int(revision):04d}_"
            numbered = [s for s in scripts.walk_revisions() if Path(s.path).name.startswith(prefix)]
            if len(numbered) == 1:
                return numbered[0]
            if numbered:
                names = ", ".join(sorted(Path(s.path).stem for s in numbered))
                raise MigrationError(f"several migrations are numbered {revision} ({names}); name one by its id")
        try:
            script = scripts.get_revision(revision)
        except (CommandError, RevisionError) as exc:
            detail = f" ({exc})" if "Multiple" in str(exc) else ""
            raise MigrationError(
                f"no migration {revision!r} in {self.directory.name}/{detail}; `fastmango showmigrations` lists them"
            ) from exc
        if script is None:
            raise MigrationError(f"{revision!r} does not name a migration; `fastmango showmigrations` lists them")
        return script

    async def _run(self, operation: Callable[[Connection], T]) -> T:
        """Run ``operation`` with the synchronous face of one async connection, then commit."""
        if make_url(self.url).get_backend_name() == "postgresql":
            require("asyncpg", extra="postgres")
        engine = create_async_engine(self.url, poolclass=NullPool)
        try:
            try:
                connection = await engine.connect()
            except Exception as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise MigrationError(
                    f"cannot connect to the database at {mask_url(self.url)}: {reason}; check DATABASE_URL"
                ) from exc
            try:
                with _alembic_errors():
                    result = await connection.run_sync(operation)
                await connection.commit()
                return result
            finally:
                await connection.close()
        finally:
            await engine.dispose()


def _next_number(existing: list[Script]) -> int:
    """The number of the next revision file: one past the highest, so a deleted file leaves a gap, not a clash."""
    numbers = [int(match[1]) for script in existing if (match := re.match(r"^(\d{4})_", Path(script.path).name))]
    return max([*numbers, len(existing)]) + 1


def _current_heads(connection: Connection) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(connection).get_current_heads())


def _escape(value: str) -> str:
    """Escape ``%`` for Alembic's ConfigParser, which interpolates option values."""
    return value.replace("%", "%%")


@contextmanager
def _alembic_errors() -> Iterator[None]:
    """Turn Alembic's and the database's errors into one-line :class:`MigrationError` messages."""
    try:
        yield
    except (CommandError, RevisionError) as exc:
        raise MigrationError(str(exc)) from exc
    except SQLAlchemyError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MigrationError(f"the database refused a migration: {reason}") from exc
