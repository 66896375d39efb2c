"""``fastmango dev``: serve the project with uvicorn and reload on change."""

from __future__ import annotations

import os

import typer

from fastmango.cli.main import app


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
    if check:
        preflight(load_app(project))
    typer.echo(f"fastmango dev: serving {project.app_path} from {project.root}")
    typer.echo(f"  app:  http://{host}:{port}/")
    typer.echo(f"  docs: http://{host}:{port}/docs")
    uvicorn.run(
        project.app_path,
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
