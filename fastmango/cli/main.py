"""The Typer application behind the ``fastmango`` command, and its error handling."""

from __future__ import annotations

import sys

import typer

from fastmango.core.errors import FastMangoError

app = typer.Typer(
    name="fastmango",
    help="fastmango: Django's productivity on FastAPI, async and AI-native.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``Error: message`` on stderr and return the exit to raise."""
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def version() -> None:
    """Print the fastmango version."""
    from fastmango.__about__ import __version__

    typer.echo(__version__)


def _register_commands() -> None:
    from fastmango.cli import (  # noqa: F401  (commands register on import)
        ai_commands,
        ai_eval,
        ai_usage,
        auth_commands,
        check_commands,
        db_commands,
        deploy_commands,
        dev,
        project_init,
        route_commands,
        serve,
        task_commands,
    )


def main() -> None:
    """Entry point of the ``fastmango`` console script: errors become one line on stderr and exit 1."""
    _register_commands()
    try:
        app()
    except FastMangoError as exc:
        typer.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
