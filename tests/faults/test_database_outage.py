"""PostgreSQL stopped, hung or slow: requests answer 503 with Retry-After within the configured timeouts, the app
recovers without a restart when the server is back, and no write is lost or half-applied."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator

import httpx
import pytest
from fastapi import status
from sqlalchemy import text

from fastmango import FastMango, Settings
from fastmango.db import Field, Model, get_database, transaction
from fastmango.testing import app_client
from tests.faults.servers import PostgresServer

TIMEOUT = 1.0  # connect, pool and statement timeouts of the app under test
BOUND = 10 * TIMEOUT  # generous: a 2-core CI machine, and never the minute a hang used to take


class OutageNote(Model, table=True):
    __tablename__ = "outage_note"
    id: int | None = Field(default=None, primary_key=True)
    batch: str = Field(index=True)
    part: int


def build_app(url: str) -> FastMango:
    settings = Settings(
        env="prod",
        secret_key="k" * 64,
        database_url=url,
        database_pool_size=4,
        database_connect_timeout=TIMEOUT,
        database_pool_timeout=TIMEOUT,
        database_statement_timeout=TIMEOUT,
    )
    app = FastMango(
        settings=settings, plugins=["fastmango.db.plugin:DatabasePlugin"], discover=False, configure_logging=False
    )

    @app.get("/notes/count")
    async def count() -> dict[str, int]:
        return {"count": await OutageNote.objects.count()}

    @app.post("/notes/{batch}", status_code=status.HTTP_201_CREATED)
    async def write(batch: str) -> dict[str, str]:
        # Two rows in one transaction: both are written or neither.
        async with transaction():
            await OutageNote.objects.create(batch=batch, part=1)
            await OutageNote.objects.create(batch=batch, part=2)
        return {"batch": batch}

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        async with get_database().autocommit_engine.connect() as conn:
            await conn.execute(text("SELECT pg_sleep(30)"))
        return {"slept": "yes"}

    return app


@pytest.fixture(scope="module")
def database_url(postgres_server: PostgresServer) -> Iterator[str]:
    url = postgres_server.create_database("outage")
    postgres_server.execute(
        "CREATE TABLE outage_note (id serial PRIMARY KEY, batch varchar NOT NULL, part integer NOT NULL)", "outage"
    )
    yield url


@pytest.fixture
async def client(database_url: str, postgres_server: PostgresServer) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(build_app(database_url)) as client:
        try:
            yield client
        finally:  # a failed test leaves the server as it was: the app's shutdown, and the next test, need it
            await asyncio.to_thread(postgres_server.resume)
            if postgres_server.postmaster_pid() is None:
                await asyncio.to_thread(postgres_server.start)


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["type"] == "https://fastmango.dev/problems/database-unavailable"
    assert body["retry_after"] == int(response.headers["retry-after"])
    assert "127.0.0.1" not in response.text and "outage_note" not in response.text  # no internals in prod


async def timed(request: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    """The response and the seconds it took; a request that hangs past BOUND fails the test instead of hanging."""
    start = time.monotonic()
    try:
        response = await asyncio.wait_for(request, BOUND)
    except TimeoutError:
        pytest.fail(f"no answer within {BOUND} s: the request hangs")
    return response, time.monotonic() - start


async def test_stopped_database_answers_503_at_once_and_the_app_recovers(
    client: httpx.AsyncClient, postgres_server: PostgresServer
) -> None:
    assert (await client.get("/notes/count")).status_code == 200
    # In a thread, so that the app's loop runs meanwhile and its pooled connections see the server go.
    await asyncio.to_thread(postgres_server.stop)

    for method, path in (("GET", "/notes/count"), ("POST", f"/notes/{uuid.uuid4().hex}")):
        response, elapsed = await timed(client.request(method, path))
        assert_unavailable(response)
        assert elapsed < BOUND

    await asyncio.to_thread(postgres_server.start)
    assert (await client.get("/notes/count")).status_code == 200  # the first request after: no restart needed
    assert (await client.post(f"/notes/{uuid.uuid4().hex}")).status_code == 201


async def test_hung_database_answers_503_within_the_timeouts_and_the_app_recovers(
    client: httpx.AsyncClient, postgres_server: PostgresServer
) -> None:
    # Several pooled connections, so that requests meet both a pooled connection and a new one.
    warm = await asyncio.gather(*(timed(client.get("/notes/count")) for _ in range(4)))
    assert {response.status_code for response, _ in warm} == {200}

    with postgres_server.paused():
        response, elapsed = await timed(client.get("/notes/count"))  # a pooled connection: the statement timeout
        assert_unavailable(response)
        assert elapsed < BOUND
        # The rest of the pool, a new connection (connect timeout) and the pool's wait, several at once.
        for response, elapsed in await asyncio.gather(*(timed(client.get("/notes/count")) for _ in range(8))):
            assert_unavailable(response)
            assert elapsed < BOUND

    assert (await timed(client.get("/notes/count")))[0].status_code == 200
    assert (await timed(client.post(f"/notes/{uuid.uuid4().hex}")))[0].status_code == 201


async def test_statement_timeout_answers_503_and_the_connection_is_reused(client: httpx.AsyncClient) -> None:
    response, elapsed = await timed(client.get("/slow"))
    assert_unavailable(response)
    assert elapsed < BOUND
    assert (await client.get("/notes/count")).status_code == 200


async def test_writes_during_outages_are_each_written_whole_or_not_at_all(
    client: httpx.AsyncClient, postgres_server: PostgresServer
) -> None:
    await asyncio.to_thread(postgres_server.execute, "TRUNCATE outage_note", "outage")
    outcomes: dict[str, int] = {}
    writing = True

    async def writer() -> None:
        while writing:
            batch = uuid.uuid4().hex
            outcomes[batch] = (await timed(client.post(f"/notes/{batch}")))[0].status_code
            await asyncio.sleep(0.01)

    writers = [asyncio.create_task(writer()) for _ in range(4)]
    await asyncio.sleep(0.3)
    await asyncio.to_thread(postgres_server.stop)  # fast shutdown: sessions are ended mid-transaction
    await asyncio.sleep(0.3)
    await asyncio.to_thread(postgres_server.start)
    await asyncio.sleep(0.3)
    await asyncio.to_thread(postgres_server.stop, "immediate")  # a crash
    await asyncio.sleep(0.3)
    await asyncio.to_thread(postgres_server.start)
    await asyncio.sleep(0.3)
    with postgres_server.paused():
        await asyncio.sleep(TIMEOUT * 2)
    await asyncio.sleep(0.5)
    writing = False
    await asyncio.gather(*writers)

    created = {batch for batch, code in outcomes.items() if code == 201}
    refused = {batch for batch, code in outcomes.items() if code == 503}
    assert created and refused, outcomes
    assert set(outcomes.values()) <= {201, 503}  # nothing else: no 500

    async with get_database().autocommit_engine.connect() as conn:
        rows = (await conn.execute(text("SELECT batch, count(*), sum(part) FROM outage_note GROUP BY batch"))).all()
    stored = {batch: (count, parts) for batch, count, parts in rows}
    assert created <= set(stored)  # no 201 lost
    assert set(stored) <= created | refused
    assert all(value == (2, 3) for value in stored.values())  # none half-written
    # A commit that reached the server just before the connection dropped is written (whole) though answered 503:
    # at most one in flight per writer at each of the three faults.
    assert len(set(stored) & refused) <= len(writers) * 3
