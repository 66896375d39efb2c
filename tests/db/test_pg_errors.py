"""PostgreSQL driver errors: outages told apart from mistakes, and bind values kept out of messages and logs."""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from fastmango import db as fdb
from fastmango.db import DatabaseUnavailable
from fastmango.db.pg_errors import redact_values, unavailable_reason

SECRET = "secret-9f3a@example.com"


@pytest.mark.parametrize(
    ("message", "redacted"),
    [
        ("Key (email)=(a@b.c) already exists.", "Key (email)=(…) already exists."),
        ("Key (a, b)=(1, x) y) already exists.", "Key (a, b)=(…) already exists."),
        ('Key (author_id)=(999) is not present in table "author".',
         'Key (author_id)=(…) is not present in table "author".'),
        ('Key (id)=(1) is still referenced from table "book".', 'Key (id)=(…) is still referenced from table "book".'),
        ("Failing row contains (3, secret@x, null).", "Failing row contains (…)."),
        (
            "invalid input for query argument $1: 'abc' ('str' object cannot be interpreted as an integer)",
            "invalid input for query argument $1 ('str' object cannot be interpreted as an integer)",
        ),
        ("invalid input for query argument $2: 2147483648 (value out of int32 range)",
         "invalid input for query argument $2 (value out of int32 range)"),
        ('invalid input syntax for type integer: "abc"', 'invalid input syntax for type integer: "…"'),
        ('value "2147483648" is out of range for type integer', 'value "…" is out of range for type integer'),
        ('duplicate key value violates unique constraint "author_email_key"',
         'duplicate key value violates unique constraint "author_email_key"'),
    ],
)  # fmt: skip
def test_redact_values_cuts_the_values_out_of_driver_messages(message: str, redacted: str) -> None:
    assert redact_values(message) == redacted


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ConnectionRefusedError(111, "Connect call failed"), "connection refused"),
        (TimeoutError(), "the server did not answer in time"),
        (ConnectionResetError(), "the server cannot be reached"),
        (sa_exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached"),
         "no pooled connection became free in time"),
        (asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"), "statement timeout"),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), "the server refused or ended the connection"),
        (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
         "the server refused or ended the connection"),
        (asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients"),
         "the server refused or ended the connection"),
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
         "the server refused or ended the connection"),
        (asyncpg.exceptions.InterfaceError("cannot call Connection.fetch(): connection is closed"),
         "the server closed the connection"),
        (DatabaseUnavailable("connection refused"), "connection refused"),
        (asyncpg.exceptions.UniqueViolationError("duplicate key"), None),
        (asyncpg.exceptions.InvalidTextRepresentationError("invalid input syntax"), None),
        (asyncpg.exceptions.UndefinedTableError('relation "x" does not exist'), None),
        (ValueError("no"), None),
    ],
)  # fmt: skip
def test_outages_are_told_apart_from_mistakes(error: BaseException, reason: str | None) -> None:
    assert unavailable_reason(error) == reason
    wrapped = sa_exc.DBAPIError("SELECT 1", None, error)  # type: ignore[arg-type]
    wrapped.__cause__ = error
    assert unavailable_reason(wrapped) == reason


@pytest.fixture
async def database(postgres_database: str) -> AsyncIterator[fdb.Database]:
    database = await fdb.connect(postgres_database)
    async with database.engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS pg_errors_contact"))
        await conn.execute(text("CREATE TABLE pg_errors_contact (id integer PRIMARY KEY, email text UNIQUE NOT NULL)"))
        await conn.execute(text("INSERT INTO pg_errors_contact VALUES (1, :email)"), {"email": SECRET})
    try:
        yield database
    finally:
        async with database.engine.begin() as conn:
            await conn.execute(text("DROP TABLE pg_errors_contact"))
        await fdb.disconnect()


def logged(error: BaseException) -> str:
    """What a log line with this exception carries: its message, its chain's, and their tracebacks."""
    return "".join(traceback.format_exception(error))


@pytest.mark.parametrize(
    ("statement", "params"),
    [
        ("INSERT INTO pg_errors_contact VALUES (2, :email)", {"email": SECRET}),  # Key (email)=(...)
        ("INSERT INTO pg_errors_contact VALUES (:id, :email)", {"id": SECRET, "email": "x"}),  # query argument $1
        ("UPDATE pg_errors_contact SET id = NULL WHERE email = :email", {"email": SECRET}),  # Failing row contains
        ("SELECT CAST(CAST(:email AS text) AS integer)", {"email": SECRET}),  # invalid input syntax: "..."
    ],
)
async def test_driver_errors_carry_no_bind_values(database: fdb.Database, statement: str, params: dict) -> None:
    with pytest.raises(sa_exc.DBAPIError) as info:
        async with database.engine.begin() as conn:
            await conn.execute(text(statement), params)
    assert SECRET not in logged(info.value)
    assert "[SQL: " in logged(info.value)  # the statement, with its placeholders, is still there to debug with


async def test_constraint_details_keep_the_columns(database: fdb.Database) -> None:
    with pytest.raises(sa_exc.IntegrityError) as info:
        async with database.engine.begin() as conn:
            await conn.execute(text("INSERT INTO pg_errors_contact VALUES (2, :email)"), {"email": SECRET})
    assert "Key (email)=(…) already exists." in logged(info.value)
    assert fdb.errors.integrity_error_from(info.value).columns == ("email",)


async def test_sql_echo_keeps_the_values(postgres_database: str, quiet_sql_echo: None) -> None:
    database = fdb.Database(postgres_database, echo=True)
    try:
        with pytest.raises(sa_exc.DBAPIError) as info:
            async with database.engine.connect() as conn:
                await conn.execute(text("SELECT CAST(CAST(:v AS text) AS integer)"), {"v": SECRET})
        assert SECRET in logged(info.value)
    finally:
        await database.dispose()
