"""``fastmango dev``: serve the project with uvicorn and reload on change."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import typer

from fastmango.cli.main import app

if TYPE_CHECKING:
    from fastmango.core.project import Project


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
    target: object = project.app_path
    if not reload:
        # One process: import the app once, check it, and hand the object itself to uvicorn.
        target = load_app(project)
        if check:
            preflight(target)
    else:
        # The server imports the app in a child process; importing it here too would double the start-up time,
        # so only the settings are checked (and the database reached) when the project has a settings module.
        if check and not check_settings(project):
            preflight(load_app(project))
        # The child serves the app through dev_app, which answers 503 while the app cannot load.
        from fastmango.cli.dev_app import APP_ENV, ROOT_ENV

        os.environ[APP_ENV] = project.app_path
        os.environ[ROOT_ENV] = str(project.root)
        target = "fastmango.cli.dev_app:app"
    typer.echo(f"fastmango dev: serving {project.app_path} from {project.root}")
    typer.echo(f"  app:  http://{host}:{port}/")
    typer.echo(f"  docs: http://{host}:{port}/docs")
    uvicorn.run(
        target,  # type: ignore[arg-type]
        host=host,
        port=port,
        reload=reload,
        reload_dirs=[str(project.root)] if reload else None,
        app_dir=str(project.root),
        log_config=None,
        access_log=False,
        lifespan="on",
    )


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
            application._configured = False

    asyncio.run(start_and_stop())


def check_settings(project: Project) -> bool:
    """Validate the project's ``Settings`` (``<package>/settings.py``) and reach its database.

    Returns False when the project has no such class (then the whole app has to be imported to check it).
    """
    import asyncio

    from pydantic import ValidationError

    from fastmango.core.errors import ImproperlyConfigured
    from fastmango.core.logging import configure_logging
    from fastmango.core.project import import_project_module
    from fastmango.core.settings import Settings, describe_validation_error

    module = import_project_module(project.package, "settings")
    settings_class = getattr(module, "Settings", None)
    if not (isinstance(settings_class, type) and issubclass(settings_class, Settings)):
        return False
    try:
        settings = settings_class()
    except ValidationError as exc:
        raise ImproperlyConfigured(describe_validation_error(exc)) from exc
    settings.check()
    # The reloader's own messages (watched folders, detected changes) log like the app's.
    configure_logging(settings)
    from fastmango.db.engine import Database

    async def ping() -> None:
        database = Database(settings.database_url, pool_size=1)
        try:
            await database.ping()
        finally:
            await database.dispose()

    asyncio.run(ping())
    return True
