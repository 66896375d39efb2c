"""``Server-Timing`` in DEBUG (fastmango/db/server_timing.py): the request's statements and the app's time."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlmodel import SQLModel

from fastmango import FastMango, Settings
from fastmango.db.engine import get_database
from fastmango.testing import app_client
from tests.db.conftest import TABLES
from tests.db.models import Author

TIMING = re.compile(r'^db;dur=\d+\.\d;desc="(\d+) quer(?:y|ies)", app;dur=\d+\.\d$')


@asynccontextmanager
async def with_tables(app: object) -> AsyncIterator[None]:
    async with get_database().engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=[SQLModel.metadata.tables[t] for t in TABLES])
    yield


def make_app(url: str, **settings: object) -> FastMango:
    app = FastMango(settings=Settings(database_url=url, **settings), configure_logging=False, lifespan=with_tables)

    @app.get("/authors")
    async def authors() -> list[str]:
        await Author.objects.count()
        return await Author.objects.values_list("name", flat=True)

    return app


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_debug_responses_carry_the_requests_statements(backend: str, request: pytest.FixtureRequest) -> None:
    url = "sqlite:///:memory:" if backend == "sqlite" else request.getfixturevalue("postgres_database")
    async with app_client(make_app(url, debug=True)) as client:
        listed = await client.get("/authors")
        assert listed.status_code == 200, listed.text
        health = await client.get("/health")
    found = TIMING.match(listed.headers["server-timing"])
    assert found is not None, listed.headers["server-timing"]
    assert int(found.group(1)) == 2  # the count and the list, on whichever route each ran
    assert TIMING.match(health.headers["server-timing"]).group(1) == "0"  # type: ignore[union-attr]


async def test_there_is_no_server_timing_outside_debug() -> None:
    async with app_client(make_app("sqlite:///:memory:", debug=False)) as client:
        response = await client.get("/authors")
    assert response.status_code == 200
    assert "server-timing" not in response.headers
