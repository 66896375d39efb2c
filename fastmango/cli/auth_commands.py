"""Auth commands: ``createsuperuser`` and ``changepassword``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer

from fastmango.cli.main import app, fail

PASSWORD_VARIABLE = "FASTMANGO_SUPERUSER_PASSWORD"
#: ``changepassword --no-input`` reads the new password here (any user's, so not the superuser variable).
CHANGE_PASSWORD_VARIABLE = "FASTMANGO_PASSWORD"
MIN_PASSWORD_LENGTH = 8
T = TypeVar("T")


def run_with_database(work: Callable[[], Awaitable[T]]) -> T:
    """Load the project (``fastmango.setup()``), run ``work`` and close the database connections."""
    from sqlalchemy.exc import DBAPIError

    import fastmango
    from fastmango.db import disconnect

    fastmango.setup()

    async def main() -> T:
        try:
            return await work()
        except DBAPIError as exc:
            if "no such table" in str(exc) or "does not exist" in str(exc):
                raise fail("the auth tables do not exist yet; run `fastmango migrate` first") from None
            raise
        finally:
            await disconnect()

    return asyncio.run(main())


def ask_password() -> str:
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise fail(f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters")


@app.command()
def createsuperuser(
    username: str | None = typer.Option(None, help="The new superuser's username."),
    email: str | None = typer.Option(None, help="The new superuser's email address."),
    no_input: bool = typer.Option(
        False, "--no-input", help=f"Ask nothing; the password comes from {PASSWORD_VARIABLE}."
    ),
) -> None:
    """Create a superuser (interactively, or from options and FASTMANGO_SUPERUSER_PASSWORD)."""
    password = os.environ.get(PASSWORD_VARIABLE)
    if no_input and (not username or not password):
        raise fail(f"--no-input needs --username and the {PASSWORD_VARIABLE} environment variable")
    if not username:
        username = typer.prompt("Username")
    if email is None and not no_input:
        email = typer.prompt("Email address", default="", show_default=False) or None
    if password is None:
        password = ask_password()
    check_password(password)

    async def create() -> Any:
        from fastmango.auth import User

        if await User.objects.filter(username=username).exists():
            raise fail(f"a user named {username!r} already exists; use `fastmango changepassword {username}`")
        return await User.objects.create_superuser(str(username), password, email=email)

    run_with_database(create)
    typer.echo(f"Superuser {username!r} created.")


@app.command()
def changepassword(
    username: str = typer.Argument(..., help="Whose password to change."),
    no_input: bool = typer.Option(
        False, "--no-input", help=f"Ask nothing; the password comes from {CHANGE_PASSWORD_VARIABLE}."
    ),
) -> None:
    """Set a user's password (asked twice, or with --no-input from FASTMANGO_PASSWORD)."""
    given = os.environ.get(CHANGE_PASSWORD_VARIABLE) if no_input else None
    if no_input and not given:
        raise fail(f"--no-input needs the new password in the {CHANGE_PASSWORD_VARIABLE} environment variable")
    if given is not None:
        check_password(given)

    async def change() -> None:
        from fastmango.auth import User
        from fastmango.auth.passwords import hash_password

        if not await User.objects.filter(username=username).exists():
            raise fail(f"no user named {username!r}")
        password = given if given is not None else ask_password()
        check_password(password)
        await User.objects.filter(username=username).update(hashed_password=hash_password(password))

    run_with_database(change)
    typer.echo(f"Password changed for {username!r}.")
