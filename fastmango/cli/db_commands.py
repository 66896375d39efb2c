"""Database commands: makemigrations, migrate, showmigrations, sqlmigrate, shell and dbshell.

Every command finds the project from the current folder, runs from the project's root (so that a relative
SQLite path in ``DATABASE_URL`` means the same file wherever it is typed) and imports the app, which brings
the settings. Migration commands also import ``<package>.models``; see :mod:`fastmango.db.migrations`.
"""

from __future__ import annotations

import ast
import asyncio
import code
import inspect
import os
import shutil
import sys
import traceback
import types
from typing import TYPE_CHECKING, Any

import typer

from fastmango.cli.main import app, fail

if TYPE_CHECKING:
    from fastmango.core.project import Project
    from fastmango.db.migrations import Migrations


def _migrations() -> tuple[Project, Migrations]:
    import logging

    from fastmango.core.project import find_project
    from fastmango.db.migrations import Migrations, load_project

    project = find_project()
    os.chdir(project.root)
    loaded = load_project(project)
    # The app configured logging at INFO; Alembic's INFO lines ("Context impl SQLiteImpl.") are noise here.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return project, Migrations.for_app(project.migrations_dir, loaded.app, loaded.settings.database_url)


def _relative(project: Project, path: os.PathLike[str] | str) -> str:
    try:
        return str(os.path.relpath(path, project.root))
    except ValueError:
        return str(path)


@app.command()
def makemigrations(
    message: str | None = typer.Option(None, "-m", "--message", help="Name of the revision (default: derived)."),
) -> None:
    """Write a migration for the changes in the models (Alembic autogenerate)."""
    project, migrations = _migrations()
    revision = asyncio.run(migrations.make(message))
    if revision is None:
        typer.echo("No changes detected")
        return
    typer.echo(f"Wrote {_relative(project, revision.path)} (revision {revision.revision})")
    for change in revision.changes:
        typer.echo(f"  - {change}")
    for warning in revision.warnings:
        typer.echo(f"Warning: {warning}", err=True)
    typer.echo("Run `fastmango migrate` to apply it.")


@app.command(context_settings={"ignore_unknown_options": True})
def migrate(
    revision: str = typer.Argument(
        "head",
        help="head (default), zero (undo all), -1 / +1 (relative), a revision id, or a file number (0002).",
        show_default=False,
    ),
) -> None:
    """Bring the database to a revision: upgrade to the latest by default, or downgrade."""
    _, migrations = _migrations()
    steps = asyncio.run(migrations.migrate(revision, on_step=lambda step: typer.echo(str(step))))
    if not steps:
        at_head = revision in {"head", "heads"}
        typer.echo("No migrations to apply." if at_head else f"Nothing to do: the database is already at {revision}.")
    created = asyncio.run(_sync_permissions(migrations.url))
    if created:
        typer.echo(f"Created {len(created)} permissions ({', '.join(sorted({c.split('.')[0] for c in created}))}).")


async def _sync_permissions(url: str) -> list[str]:
    """Create the ``<table>.view/add/change/delete`` permissions of the migrated tables (when auth is migrated)."""
    from sqlalchemy import inspect as sa_inspect

    from fastmango.db import connected

    async with connected(url) as database, database.engine.connect() as conn:
        tables = set(await conn.run_sync(lambda sync: sa_inspect(sync).get_table_names()))
    if "auth_permission" not in tables:
        return []
    from fastmango.auth.permissions import sync_permissions

    async with connected(url):
        return await sync_permissions(only_tables=tables)


@app.command()
def showmigrations() -> None:
    """List the migrations: [X] applied to the database, [ ] not yet."""
    project, migrations = _migrations()
    folder = _relative(project, migrations.directory)
    statuses = asyncio.run(migrations.status()) if migrations.revisions(framework=True) else []
    group = None
    for status in statuses:
        heading = status.branch or f"{folder}/"
        if heading != group:
            typer.echo(heading)
            group = heading
        mark = "X" if status.applied else " "
        typer.echo(f" [{mark}] {status.name}")
    if not migrations.revisions():
        typer.echo(f"No migrations in {folder}/ yet; run `fastmango makemigrations`.")


@app.command()
def sqlmigrate(
    revision: str = typer.Argument(..., help="A revision id (or a unique prefix of one), or a file number (0002)."),
    backwards: bool = typer.Option(False, "--backwards", help="Print the SQL of the downgrade."),
) -> None:
    """Print the SQL a migration runs, without running it."""
    _, migrations = _migrations()
    typer.echo(migrations.sql(revision, backwards=backwards).strip())


@app.command()
def shell(
    command: str | None = typer.Option(None, "-c", "--command", help="Run this code and exit (await works)."),
    plain: bool = typer.Option(False, "--plain", help="Use Python's REPL even when IPython is installed."),
) -> None:
    """Open a Python shell with the project set up and its models imported; top-level await works."""
    import fastmango
    from fastmango.core.project import find_project
    from fastmango.db.engine import disconnect
    from fastmango.db.migrations import import_models, table_models

    project = find_project()
    os.chdir(project.root)
    application = fastmango.setup()
    models = table_models(import_models(project.package))
    namespace: dict[str, Any] = {
        "__name__": "__main__",
        "asyncio": asyncio,
        "fastmango": fastmango,
        "app": application,
        "settings": application.settings,
        **models,
    }
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    exit_code = 0
    try:
        if command is not None:
            exit_code = run_source(command, namespace, loop)
        else:
            names = ", ".join([*models, "app", "settings", "fastmango"])
            banner = f"fastmango shell ({project.package}); imported: {names}. Top-level await works."
            if plain or not _start_ipython(namespace, loop, banner):
                console = AsyncConsole(namespace, loop)
                console.interact(banner=f"Python {sys.version.split()[0]}, {banner}", exitmsg="")
    finally:
        loop.run_until_complete(disconnect())
        loop.close()
    if exit_code:
        raise typer.Exit(exit_code)


def run_source(source: str, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop) -> int:
    """Execute ``source`` in ``namespace`` with top-level ``await`` allowed, on ``loop``.

    Returns:
        0, or 1 after printing the traceback when the code raised.
    """
    try:
        compiled = compile(source, "<shell -c>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(compiled, namespace)
        if inspect.iscoroutine(result):
            loop.run_until_complete(result)
    except SystemExit:
        raise
    except BaseException as exc:
        # Start the traceback at the user's code, not in this function or asyncio's machinery.
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != "<shell -c>":
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb or exc.__traceback__)
        return 1
    return 0


class AsyncConsole(code.InteractiveConsole):
    """Python's REPL with top-level ``await``, each awaited statement run on one long-lived event loop.

    The same approach as ``python -m asyncio``, except that the loop runs only while a statement runs, so
    the console stays in the main thread (Ctrl-C interrupts the running statement).
    """

    def __init__(self, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(namespace, filename="<fastmango shell>")
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self.loop = loop
        _enable_completion(namespace)

    def runcode(self, code: types.CodeType) -> None:
        try:
            result = types.FunctionType(code, self.locals)()
            if inspect.iscoroutine(result):
                self.loop.run_until_complete(result)
        except SystemExit:
            raise
        except BaseException:
            self.showtraceback()


def _enable_completion(namespace: dict[str, Any]) -> None:
    try:
        import readline
        import rlcompleter
    except ImportError:  # Windows without pyreadline
        return
    readline.set_completer(rlcompleter.Completer(namespace).complete)
    readline.parse_and_bind("tab: complete")


def _start_ipython(namespace: dict[str, Any], loop: asyncio.AbstractEventLoop, banner: str) -> bool:
    """Run IPython on ``loop`` (its autoawait runs each cell there); False when IPython is not installed."""
    try:
        from IPython.terminal.ipapp import TerminalIPythonApp
        from traitlets.config import Config
    except ImportError:
        return False
    config = Config()
    config.InteractiveShell.autoawait = True
    config.TerminalInteractiveShell.banner2 = banner + "\n"
    ipython = TerminalIPythonApp.instance(user_ns=namespace, config=config)
    ipython.initialize(argv=[])
    # Set on the shell, not in the config: traitlets deep-copies config values, and a loop cannot be copied.
    ipython.shell.loop_runner = loop.run_until_complete
    ipython.start()
    return True


_INSTALL_HINTS = {
    "sqlite3": "install it (Debian/Ubuntu: apt install sqlite3; macOS: brew install sqlite)",
    "psql": "install the PostgreSQL client (Debian/Ubuntu: apt install postgresql-client; macOS: brew install libpq)",
}


@app.command()
def dbshell(
    arguments: list[str] | None = typer.Argument(None, help="Passed on to sqlite3 or psql (put them after --)."),
) -> None:
    """Open the database's own command-line client: sqlite3 or psql."""
    from fastmango.core.project import find_project, load_app
    from fastmango.core.settings import Settings

    project = find_project()
    os.chdir(project.root)
    settings = getattr(load_app(project), "settings", None)
    if not isinstance(settings, Settings):
        settings = Settings()
    argv, environment = client_command(settings.database_url, arguments or [])
    if shutil.which(argv[0]) is None:
        raise fail(f"{argv[0]} is not installed (or not on PATH); {_INSTALL_HINTS[argv[0]]}")
    sys.stdout.flush()
    os.execvpe(argv[0], argv, environment)


def client_command(database_url: str, arguments: list[str]) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that open ``database_url`` in sqlite3 or psql.

    The PostgreSQL password goes in ``PGPASSWORD``, not on the command line, where ``ps`` would show it.

    Args:
        database_url: The settings' ``database_url`` (``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``).
        arguments: Extra arguments for the client.
    """
    from sqlalchemy.engine import URL, make_url

    url = make_url(database_url)
    environment = dict(os.environ)
    if url.get_backend_name() == "sqlite":
        return ["sqlite3", url.database or ":memory:", *arguments], environment
    query = dict(url.query)
    if "ssl" in query and "sslmode" not in query:
        query["sslmode"] = query.pop("ssl")  # asyncpg's name for libpq's sslmode
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    plain = URL.create("postgresql", username=url.username, host=url.host, port=url.port, database=url.database)
    target = plain.update_query_dict(query).render_as_string(hide_password=False)
    return ["psql", target, *arguments], environment
