"""With REDIS_URL set, login failures live in Redis and revocations are cached there, shared by every process.

Revocations stay in the database: a Redis that restarts empty, or is down, never lets a revoked token back in.
"""

from __future__ import annotations

import httpx
import jwt
from sqlmodel import SQLModel

from fastmango import FastMango
from fastmango.auth import User
from fastmango.auth.ratelimit import RedisLoginLimiter
from fastmango.auth.revocation import RedisRevocationCache
from fastmango.core.redis import redis_client
from fastmango.testing import app_client
from tests.auth.conftest import AUTH_TABLES, PASSWORD, bearer, login, make_settings


def tokens_jti(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["jti"])


async def flush(redis_url: str) -> None:
    client = redis_client(redis_url)
    await client.flushdb()
    await client.aclose()


async def test_logout_revokes_in_redis_and_two_apps_share_it(redis_url: str) -> None:
    await flush(redis_url)
    settings = make_settings("sqlite:///:memory:", redis_url=redis_url)
    first = FastMango(settings=settings, configure_logging=False)
    assert isinstance(first.state.auth.revoked.cache, RedisRevocationCache)
    assert isinstance(first.state.auth.limiter, RedisLoginLimiter)
    async with app_client(first) as client:
        async with first.state.database.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all, tables=[SQLModel.metadata.tables[t] for t in AUTH_TABLES])
        await User.objects.create_user("ada", password=PASSWORD)
        tokens = (await login(client, "ada")).json()
        assert (await client.get("/auth/me", headers=bearer(tokens["access_token"]))).status_code == 200
        assert (await client.post("/auth/logout", headers=bearer(tokens["access_token"]))).status_code == 204
        revoked = await client.get("/auth/me", headers=bearer(tokens["access_token"]))
        assert revoked.status_code == 401
        assert "revoked" in revoked.json()["detail"]
        cache = first.state.auth.revoked.cache._redis
        keys = await cache.keys("fastmango:auth:revoked:*")
        assert {await cache.get(key) for key in keys} == {"1"}  # the token and its session
        ttl = await cache.ttl(f"fastmango:auth:revoked:{tokens_jti(tokens['access_token'])}")
        assert 0 < ttl <= 15 * 60 + 1


async def test_login_failures_are_counted_in_redis(redis_url: str) -> None:
    await flush(redis_url)
    settings = make_settings("sqlite:///:memory:", redis_url=redis_url, auth_login_max_failures=2)
    app = FastMango(settings=settings, configure_logging=False)
    async with app_client(app) as client:
        async with app.state.database.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all, tables=[SQLModel.metadata.tables[t] for t in AUTH_TABLES])
        for _ in range(2):
            assert (await login(client, "ghost", "x")).status_code == 401
        limited: httpx.Response = await login(client, "ghost", "x")
        assert limited.status_code == 429
        assert 0 < int(limited.headers["retry-after"]) <= 300
    other = FastMango(settings=settings, configure_logging=False)
    async with app_client(other) as client:
        assert (await login(client, "ghost", "x")).status_code == 429
    await flush(redis_url)
