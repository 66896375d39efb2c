"""The database's errors as problem details: conflicts without schema internals in prod, outages 503 with
Retry-After, refused values 400 without the value, anything else 500."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from fastmango import FastMango, Settings
from fastmango.db import DatabaseUnavailable, Field, Model, get_database
from fastmango.testing import app_client

SECRET = "secret-77c1@example.com"


class PluginContact(Model, table=True):
    __tablename__ = "plugin_contact"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True)


def build_app(url: str, env: str) -> FastMango:
    settings = Settings(env=env, secret_key="k" * 64, database_url=url)
    app = FastMango(
        settings=settings, plugins=["fastmango.db.plugin:DatabasePlugin"], discover=False, configure_logging=False
    )

    @app.post("/contacts", status_code=201)
    async def create(email: str) -> dict[str, str]:
        await PluginContact.objects.create(email=email)
        return {"email": email}

    @app.get("/contacts/count")
    async def count() -> dict[str, int]:
        return {"count": await PluginContact.objects.count()}

    @app.get("/unavailable")
    async def unavailable() -> None:
        raise DatabaseUnavailable("connection refused")

    @app.get("/pool-timeout")
    async def pool_timeout() -> None:
        raise sa_exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached, connection timed out")

    @app.get("/cast")
    async def cast(value: str) -> None:
        async with get_database().autocommit_engine.connect() as conn:
            await conn.execute(text("SELECT CAST(CAST(:v AS text) AS integer)"), {"v": value})

    @app.get("/missing-table")
    async def missing_table() -> None:
        async with get_database().autocommit_engine.connect() as conn:
            await conn.execute(text("SELECT * FROM no_such_table_here"))

    return app


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/plugin.sqlite3"
    return str(request.getfixturevalue("postgres_database"))


async def started(url: str, env: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(build_app(url, env)) as client:
        async with get_database().engine.begin() as conn:
            await conn.run_sync(lambda sync: PluginContact.metadata.drop_all(sync, tables=[PluginContact.__table__]))
            await conn.run_sync(lambda sync: PluginContact.metadata.create_all(sync, tables=[PluginContact.__table__]))
        yield client


@pytest.fixture
async def prod(url: str) -> AsyncIterator[httpx.AsyncClient]:
    async for client in started(url, "prod"):
        yield client


@pytest.fixture
async def dev(url: str) -> AsyncIterator[httpx.AsyncClient]:
    async for client in started(url, "dev"):
        yield client


async def test_a_conflict_in_prod_names_the_field_not_the_constraint_or_table(prod: httpx.AsyncClient) -> None:
    assert (await prod.post("/contacts", params={"email": SECRET})).status_code == 201
    response = await prod.post("/contacts", params={"email": SECRET})
    assert response.status_code == 409
    body = response.json()
    assert body["type"] == "https://fastmango.dev/problems/integrity"
    assert body["detail"] == "Another row already has this email. Send another email, or change the existing row."
    assert (body["constraint_kind"], body["columns"]) == ("unique", ["email"])
    assert "constraint" not in body and "table" not in body
    assert "plugin_contact" not in response.text and SECRET not in response.text


async def test_a_conflict_in_dev_names_the_constraint(dev: httpx.AsyncClient) -> None:
    await dev.post("/contacts", params={"email": SECRET})
    body = (await dev.post("/contacts", params={"email": SECRET})).json()
    assert body["table"] == "plugin_contact" and body["constraint"]
    assert "plugin_contact" in body["detail"]


@pytest.mark.parametrize("path", ["/unavailable", "/pool-timeout"])
async def test_database_unavailable_is_503_with_retry_after(prod: httpx.AsyncClient, path: str) -> None:
    response = await prod.get(path)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["type"] == "https://fastmango.dev/problems/database-unavailable"
    assert body["retry_after"] == 5
    assert "QueuePool" not in response.text and "refused" not in response.text  # the reason only in DEBUG


@pytest.fixture
async def prod_postgres(postgres_database: str) -> AsyncIterator[httpx.AsyncClient]:
    async for client in started(postgres_database, "prod"):
        yield client


async def test_a_value_the_database_refuses_is_400_without_the_value(prod_postgres: httpx.AsyncClient) -> None:
    # PostgreSQL refuses "secret..." as an integer, and quotes it (SQLite casts any text to an integer).
    response = await prod_postgres.get("/cast", params={"value": SECRET})
    assert response.status_code == 400
    assert response.json()["type"] == "https://fastmango.dev/problems/bad-value"
    assert "invalid input syntax for type integer" in response.json()["detail"]
    assert SECRET not in response.text


async def test_another_database_error_is_a_500_without_internals(prod: httpx.AsyncClient) -> None:
    response = await prod.get("/missing-table")
    assert response.status_code == 500
    assert response.json()["type"] == "https://fastmango.dev/problems/internal-error"
    assert "no_such_table_here" not in response.text


async def test_a_locked_sqlite_database_is_503_with_retry_after(tmp_path: object) -> None:
    # Another process holds the write lock past the busy timeout (here 0.2 s, the URL's ?timeout=): "database is
    # locked" (sqlite3.OperationalError) is an outage that a retry may get past, not a 500.
    path = f"{tmp_path}/locked.sqlite3"
    async for client in started(f"sqlite:///{path}?timeout=0.2", "prod"):
        assert (await client.post("/contacts", params={"email": "a@example.com"})).status_code == 201
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            for response in (
                await client.post("/contacts", params={"email": "b@example.com"}),
                await client.get("/contacts/count"),
            ):
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"] == "5"
                assert response.json()["type"] == "https://fastmango.dev/problems/database-unavailable"
                assert "locked" not in response.text  # the reason only in DEBUG
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert (await client.post("/contacts", params={"email": "b@example.com"})).status_code == 201
