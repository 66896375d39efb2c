"""``fastmango dev``: serve the project with uvicorn and reload on change."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

import typer

from fastmango.cli.main import app

if TYPE_CHECKING:
    from uvicorn import Config

    from fastmango.core.project import Project
    from fastmango.core.settings import Settings


@app.command()
def dev(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port to listen on."),
    reload: bool = typer.Option(True, "--reload/--no-reload", help="Restart when a project file changes."),
    check: bool = typer.Option(
        True, "--check/--no-check", help="Import the app and reach the database before serving."
    ),
) -> None:
    """Run the development server for the project found from the current folder."""
    import uvicorn

    from fastmango.core.project import find_project, load_app

    project = find_project()
    os.chdir(project.root)
    # The project's modules import as the server will import them (the settings check needs this too).
    if str(project.root) not in sys.path:
        sys.path.insert(0, str(project.root))
    if not reload:
        # One process: import the app once, check it, and hand the object itself to uvicorn.
        application = load_app(project)
        if check:
            preflight(application)
        from fastmango.cli.dev_app import DevApp, check_project_later

        served = DevApp(
            application,
            project.app_path,
            project.root,
            serve_failures=False,
            on_started=check_project_later(application, project.migrations_dir),
        )
        announce(project, host, port)
        uvicorn.run(served, host=host, port=port, log_config=None, access_log=False, lifespan="on", proxy_headers=False)
        return
    # The server imports the app in a child process; importing it here too would double the start-up time,
    # so only the settings are checked here when the project has a settings module.
    settings = load_settings(project) if check else None
    if check and settings is None:
        preflight(load_app(project))
    # The child serves the app through dev_app, which answers 503 while the app cannot load.
    from fastmango.cli.dev_app import APP_ENV, MIGRATIONS_ENV, ROOT_ENV

    os.environ[APP_ENV] = project.app_path
    os.environ[ROOT_ENV] = str(project.root)
    os.environ[MIGRATIONS_ENV] = str(project.migrations_dir)
    config = uvicorn.Config(
        "fastmango.cli.dev_app:app",
        host=host,
        port=port,
        reload=True,
        reload_dirs=[str(project.root)],
        log_config=None,
        access_log=False,
        lifespan="on",
        # X-Forwarded-For is the app's to trust (settings.forwarded_allow_ips); uvicorn would believe 127.0.0.1.
        proxy_headers=False,
    )
    # A SQLite database is a local file that the server process opens in its start-up (a failure there answers
    # 503 naming it); a database server may well be down, so it is reached from here and stops dev with one line.
    database_url = settings.database_url if settings is not None and not settings.is_sqlite else None
    announce(project, host, port)
    serve_with_reload(config, database_url)


def announce(project: Project, host: str, port: int) -> None:
    """Print what is served and where."""
    typer.echo(f"fastmango dev: serving {project.app_path} from {project.root}")
    typer.echo(f"  app:  http://{host}:{port}/")
    typer.echo(f"  docs: http://{host}:{port}/docs")


def serve_with_reload(config: Config, database_url: str | None) -> None:
    """Run uvicorn's reloader; a database server is reached before the first server process starts.

    Reaching it first keeps an unreachable database to one line: a server process started beside the check
    would reach its own start-up (and print its traceback) first on a busy machine. The check costs a
    connection (tens of milliseconds); SQLite projects skip it.
    """
    import uvicorn
    from uvicorn.supervisors import ChangeReload

    # ChangeReload is a variable (WatchFiles or stat polling), typed type[BaseReload]: mypy refuses it as a base.
    class CheckedReload(ChangeReload):  # type: ignore[valid-type,misc]
        def startup(self) -> None:
            if database_url is not None:
                try:
                    ping_database(database_url)
                except BaseException:
                    for sock in self.sockets:
                        sock.close()
                    raise
            super().startup()

    server = uvicorn.Server(config)
    CheckedReload(config, target=server.run, sockets=[config.bind_socket()]).run()


def preflight(application: object) -> None:
    """Start and stop the app's plugins once, so that configuration errors stop ``dev`` with one line."""
    import asyncio

    from fastmango.core.app import FastMango

    if not isinstance(application, FastMango):
        return

    async def start_and_stop() -> None:
        application.configure_plugins()
        started = []
        try:
            for plugin in application.plugins:
                await plugin.startup(application)
                started.append(plugin)
        finally:
            for plugin in reversed(started):
                await plugin.shutdown(application)
            application.reset_configuration()

    asyncio.run(start_and_stop())


def load_settings(project: Project) -> Settings | None:
    """Validate the project's ``Settings`` (``<package>/settings.py``) and configure logging from them.

    Returns None when the project has no such class (then the whole app has to be imported to check it).

    Raises:
        ImproperlyConfigured: the settings are invalid or must not run (DEBUG on in prod...).
    """
    from pydantic import ValidationError

    from fastmango.core.errors import ImproperlyConfigured
    from fastmango.core.logging import configure_logging
    from fastmango.core.project import import_project_module
    from fastmango.core.settings import Settings, describe_validation_error

    module = import_project_module(project.package, "settings")
    settings_class = getattr(module, "Settings", None)
    if not (isinstance(settings_class, type) and issubclass(settings_class, Settings)):
        return None
    try:
        settings = settings_class()
    except ValidationError as exc:
        raise ImproperlyConfigured(describe_validation_error(exc)) from exc
    settings.check()
    # The reloader's own messages (watched folders, detected changes) log like the app's; watchfiles' INFO line
    # for every change (a .sqlite3 file, a .pyc) is noise: uvicorn says when a change reloads the server.
    configure_logging(settings)
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
    return settings


def ping_database(database_url: str) -> None:
    """Open a connection to the database and run ``SELECT 1``.

    Raises:
        ImproperlyConfigured: the database cannot be reached; the message names it (password masked).
    """
    import asyncio

    from fastmango.db.engine import Database

    async def ping() -> None:
        database = Database(database_url, pool_size=1)
        try:
            await database.ping()
        finally:
            await database.dispose()

    asyncio.run(ping())
