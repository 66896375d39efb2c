"""Revocations are durable in the database, Redis only caches them (fastmango/auth/revocation.py).

A Redis that restarts empty never lets a revoked token back in; with Redis down auth goes on from the database;
with the database down too, a request that carries a token is a 503, never let through unchecked.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from fastmango import FastMango
from fastmango.auth import User
from fastmango.auth.models import RevokedToken
from fastmango.core.redis import redis_client
from tests.auth.conftest import PASSWORD, add_test_routes, bearer, login, make_settings, started, tokens_for
from tests.auth.outage import TcpProxy, closed_port


async def flush(redis_url: str) -> None:
    redis = redis_client(redis_url)
    await redis.flushdb()
    await redis.aclose()


@asynccontextmanager
async def serving(database_url: str, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    # The inline task backend: these tests are about auth, and arq's own Redis handling is the tasks layer's.
    app = FastMango(settings=make_settings(database_url, task_backend="inline", **settings), configure_logging=False)
    add_test_routes(app)
    async with started(app) as client:
        yield client


def assert_status(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.headers["content-type"] == "application/problem+json"


async def test_revoked_tokens_stay_refused_after_redis_loses_its_data(database_url: str, redis_url: str) -> None:
    await flush(redis_url)
    async with serving(database_url, redis_url=redis_url) as client:
        await User.objects.create_user("ada", password=PASSWORD)
        rotated = await tokens_for(client, "ada")
        assert_status(await client.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]}), 200)
        logged_out = await tokens_for(client, "ada")
        # Checked once, so that Redis caches "not revoked" before the logout.
        assert_status(await client.get("/whoami", headers=bearer(logged_out["access_token"])), 200)
        assert_status(await client.post("/auth/logout", headers=bearer(logged_out["access_token"])), 204)
        await flush(redis_url)  # Redis restarted and lost its data
        assert_status(await client.get("/whoami", headers=bearer(logged_out["access_token"])), 401)
        assert_status(await client.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]}), 401)
        assert_status(await client.post("/auth/refresh", json={"refresh_token": logged_out["refresh_token"]}), 401)
        assert await RevokedToken.objects.count() >= 3
    await flush(redis_url)


async def test_a_revocation_overrides_another_process_cached_not_revoked(tmp_path: Any, redis_url: str) -> None:
    await flush(redis_url)
    url = f"sqlite:///{tmp_path}/shared.sqlite3"
    async with serving(url, redis_url=redis_url) as first, serving(url, redis_url=redis_url) as second:
        await User.objects.create_user("ada", password=PASSWORD)
        tokens = await tokens_for(first, "ada")
        assert_status(await first.get("/whoami", headers=bearer(tokens["access_token"])), 200)
        assert_status(await second.post("/auth/logout", headers=bearer(tokens["access_token"])), 204)
        assert_status(await first.get("/whoami", headers=bearer(tokens["access_token"])), 401)
    await flush(redis_url)


async def test_with_redis_down_login_and_tokens_work_from_the_database(database_url: str) -> None:
    down = f"redis://127.0.0.1:{closed_port()}/0"
    async with serving(database_url, redis_url=down, auth_login_max_failures=2) as client:
        await User.objects.create_user("ada", password=PASSWORD)
        tokens = await tokens_for(client, "ada")
        assert_status(await client.get("/whoami", headers=bearer(tokens["access_token"])), 200)
        maybe = await client.get("/maybe", headers=bearer(tokens["access_token"]))
        assert maybe.json() == {"username": "ada"}
        assert (await client.get("/maybe")).json() == {"username": None}
        renewed = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert_status(renewed, 200)
        assert_status(await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)
        fresh = await tokens_for(client, "ada")
        assert_status(await client.post("/auth/logout", headers=bearer(fresh["access_token"])), 204)
        assert_status(await client.get("/whoami", headers=bearer(fresh["access_token"])), 401)
        # The limiter counts in the process meanwhile.
        assert_status(await login(client, "ada", "wrong"), 401)
        assert_status(await login(client, "ada", "wrong"), 401)
        assert_status(await login(client, "ada", "wrong"), 429)


async def test_a_hung_redis_fails_fast_and_auth_goes_on(database_url: str) -> None:
    # A server that accepts connections and never answers, as a hung Redis does.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    hung = f"redis://127.0.0.1:{server.sockets[0].getsockname()[1]}/0"
    try:
        async with serving(database_url, redis_url=hung, redis_socket_timeout=0.2) as client:
            await User.objects.create_user("ada", password=PASSWORD)
            async with asyncio.timeout(60):  # a guard against hanging forever, not a measurement
                tokens = await tokens_for(client, "ada")
                assert_status(await client.get("/whoami", headers=bearer(tokens["access_token"])), 200)
    finally:
        server.close()


@pytest.fixture
def proxied_postgres(postgres_database: str) -> tuple[str, int]:
    parts = urlsplit(postgres_database)
    return postgres_database, parts.port or 5432


def through(url: str, proxy: TcpProxy) -> str:
    """``url`` by way of ``proxy`` (which listens once entered)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


@pytest.mark.parametrize("redis", ["down", "up"])
async def test_with_the_database_down_a_token_is_a_503_never_an_unchecked_pass(
    proxied_postgres: tuple[str, int], redis: str, request: pytest.FixtureRequest
) -> None:
    url, port = proxied_postgres
    redis_url = f"redis://127.0.0.1:{closed_port()}/0" if redis == "down" else request.getfixturevalue("redis_url")
    if redis == "up":
        await flush(redis_url)
    proxy = TcpProxy(urlsplit(url).hostname or "127.0.0.1", port)
    async with proxy, serving(through(url, proxy), redis_url=redis_url, auth_revocation_cache_seconds=0) as client:
        await User.objects.create_user("ada", password=PASSWORD)
        tokens = await tokens_for(client, "ada")
        revoked = await tokens_for(client, "ada")
        assert_status(await client.post("/auth/logout", headers=bearer(revoked["access_token"])), 204)
        await proxy.cut()
        try:
            for path in ("/whoami", "/maybe", "/auth/me"):
                response = await client.get(path, headers=bearer(tokens["access_token"]))
                assert_status(response, 503)
                assert int(response.headers["retry-after"]) > 0
            # Code that reads request.state.user sees an anonymous user, not the token's.
            assert (await client.get("/state-user", headers=bearer(tokens["access_token"]))).json() == {
                "authenticated": False,
                "username": "",
            }
            # Redis alone still knows a revoked token is revoked.
            refused = await client.get("/whoami", headers=bearer(revoked["access_token"]))
            assert_status(refused, 401 if redis == "up" else 503)
            assert_status(await login(client, "ada"), 503)
            assert_status(await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 503)
        finally:
            await proxy.resume()
        # ...and it recovers without a restart.
        assert_status(await client.get("/whoami", headers=bearer(tokens["access_token"])), 200)
    if redis == "up":
        await flush(redis_url)
