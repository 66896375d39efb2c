"""Login rate limiting (fastmango/auth/ratelimit.py): bounded state, per-user/address buckets, Redis fallback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import SQLModel

from fastmango import FastMango
from fastmango.auth import User
from fastmango.auth.ratelimit import Bucket, MemoryLoginLimiter, RedisLoginLimiter, bucket_key, normalize_username
from fastmango.core.redis import redis_client
from fastmango.testing import app_client
from tests.auth.conftest import PASSWORD, make_settings
from tests.auth.outage import PeerFromHeader, closed_port, login_from


@asynccontextmanager
async def serving(tmp_path: Path, **settings: Any) -> AsyncIterator[tuple[FastMango, httpx.AsyncClient]]:
    """An app on a fresh SQLite file whose requests come from the address in ``x-test-peer``."""
    app = FastMango(settings=make_settings(f"sqlite:///{tmp_path}/limits.sqlite3", **settings), configure_logging=False)
    async with app_client(PeerFromHeader(app)) as client:
        async with app.state.database.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all, tables=[SQLModel.metadata.tables["auth_user"]])
        yield app, client


def test_bucket_keys_are_fixed_length_hashes_of_the_normalised_username() -> None:
    fullwidth = "\uff52\uff4f\uff4f\uff54"
    assert normalize_username("ROOT") == normalize_username("root") == normalize_username(fullwidth)
    short, long = bucket_key("user", "a"), bucket_key("user", "a" * 2**20)
    assert len(short) == len(long) == len("user:") + 32
    assert "a" * 33 not in long
    assert bucket_key("user", normalize_username("Root")) == bucket_key("user", "root")
    assert bucket_key("user-address", "ab", "c") != bucket_key("user-address", "a", "bc")


async def test_an_attempt_refused_by_a_full_bucket_stores_nothing() -> None:
    limiter = MemoryLoginLimiter(window_seconds=300)
    address = Bucket(bucket_key("address", "10.0.0.1"), 3)
    for i in range(3):
        assert await limiter.hit([Bucket(bucket_key("user", f"u{i}"), 5), address]) is None
    stored = len(limiter)
    for i in range(1000):
        wait = await limiter.hit([Bucket(bucket_key("user", f"other{i}"), 5), address])
        assert wait is not None and 0 < wait <= 301
    assert len(limiter) == stored == 4


async def test_the_memory_limiter_keeps_at_most_max_entries_dropping_the_oldest() -> None:
    limiter = MemoryLoginLimiter(window_seconds=300, max_entries=100)
    first = Bucket(bucket_key("user", "first"), 1)
    await limiter.hit([first])
    for i in range(1000):
        await limiter.hit([Bucket(bucket_key("user", f"u{i}"), 5)])
        assert len(limiter) <= 100
    assert await limiter.hit([first]) is None  # its counter went first, so it counts afresh


async def test_a_limited_attempt_stores_nothing_in_redis(redis_url: str) -> None:
    redis = redis_client(redis_url)
    await redis.flushdb()
    limiter = RedisLoginLimiter(redis_url, 300, MemoryLoginLimiter(300))
    try:
        address = Bucket(bucket_key("address", "10.0.0.1"), 2)
        for i in range(2):
            assert await limiter.hit([Bucket(bucket_key("user", f"u{i}" * 1000), 5), address]) is None
        assert await redis.dbsize() == 3
        for i in range(200):
            wait = await limiter.hit([Bucket(bucket_key("user", f"x{i}" * 1000), 5), address])
            assert wait is not None and 0 < wait <= 300
        keys = await redis.keys("*")
        assert len(keys) == 3
        assert {len(key) for key in keys} == {len(RedisLoginLimiter.prefix + bucket_key("address", "x"))} | {
            len(RedisLoginLimiter.prefix + bucket_key("user", "x"))
        }
        assert all(0 < ttl <= 300 for ttl in [await redis.ttl(key) for key in keys])
    finally:
        await limiter.close()
        await redis.flushdb()
        await redis.aclose()


async def test_with_redis_down_the_limiter_counts_in_the_process() -> None:
    limiter = RedisLoginLimiter(f"redis://127.0.0.1:{closed_port()}/0", 300, MemoryLoginLimiter(300))
    bucket = Bucket(bucket_key("user", "ada"), 2)
    try:
        assert await limiter.hit([bucket]) is None
        assert await limiter.hit([bucket]) is None
        assert await limiter.hit([bucket]) is not None
        assert limiter.outage.down()
        await limiter.reset([bucket.key])
        assert await limiter.hit([bucket]) is None
    finally:
        await limiter.close()


async def test_a_username_longer_than_the_column_is_a_422_before_any_work(tmp_path: Path) -> None:
    async with serving(tmp_path) as (app, client):
        response = await client.post("/auth/token", data={"username": "a" * 151, "password": "x"})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "username"
        too_long_password = await client.post("/auth/token", data={"username": "ada", "password": "p" * 5000})
        assert too_long_password.status_code == 422
        assert len(app.state.auth.limiter) == 0
        assert (await client.post("/auth/token", data={"username": "a" * 150, "password": "x"})).status_code == 401


async def test_a_noisy_client_does_not_lock_the_username_out_from_other_addresses(tmp_path: Path) -> None:
    async with serving(tmp_path, auth_login_max_failures=3) as (_, client):
        await User.objects.create_user("root", password=PASSWORD)
        for _ in range(3):
            assert await login_from(client, "203.0.113.9", "root", "guess") == 401
        assert await login_from(client, "203.0.113.9", "root", PASSWORD) == 429
        assert await login_from(client, "203.0.113.9", "ROOT", "guess") == 429  # the same bucket, case-folded
        assert await login_from(client, "198.51.100.7", "root", PASSWORD) == 200
        assert await login_from(client, "203.0.113.9", "someone-else", "guess") == 401


async def test_one_address_is_limited_across_usernames_at_its_higher_ceiling(tmp_path: Path) -> None:
    async with serving(tmp_path, auth_login_max_failures=2, auth_login_max_failures_per_address=10) as (_, client):
        await User.objects.create_user("ada", password=PASSWORD)
        statuses = [await login_from(client, "203.0.113.9", f"user{i}", "guess") for i in range(30)]
        assert statuses == [401] * 10 + [429] * 20
        assert await login_from(client, "198.51.100.7", "ada", PASSWORD) == 200


async def test_a_username_is_limited_across_addresses_at_its_own_ceiling(tmp_path: Path) -> None:
    async with serving(tmp_path, auth_login_max_failures=3, auth_login_max_failures_per_user=4) as (_, client):
        statuses = [await login_from(client, f"203.0.113.{i}", "root", "guess") for i in range(6)]
        assert statuses == [401] * 4 + [429] * 2


async def test_ipv6_clients_are_counted_per_64_network(tmp_path: Path) -> None:
    async with serving(tmp_path, auth_login_max_failures_per_address=3) as (_, client):
        statuses = [await login_from(client, f"2001:db8:0:1::{i:x}", f"user{i}", "guess") for i in range(5)]
        assert statuses == [401] * 3 + [429] * 2
        assert await login_from(client, "2001:db8:0:2::1", "user9", "guess") == 401


@pytest.mark.parametrize("rewritten", [False, True], ids=["peer-kept", "peer-rewritten-by-server"])
async def test_x_forwarded_for_from_an_untrusted_peer_cannot_rotate_buckets(tmp_path: Path, rewritten: bool) -> None:
    # A spray over 30 accounts, each request claiming another address. uvicorn (which believes 127.0.0.1 by
    # default) would have rewritten the client to the claimed address: the app sees that and does not believe it.
    async with serving(tmp_path, auth_login_max_failures_per_address=10) as (_, client):
        statuses = []
        for i in range(30):
            claimed = f"198.51.100.{i}"
            peer = claimed if rewritten else "127.0.0.1"
            statuses.append(await login_from(client, peer, f"user{i}", "guess", **{"x-forwarded-for": claimed}))
        assert statuses == [401] * 10 + [429] * 20


async def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(tmp_path: Path) -> None:
    settings = {"forwarded_allow_ips": ["10.0.0.0/8"], "auth_login_max_failures_per_address": 2}
    async with serving(tmp_path, **settings) as (_, client):
        # The right-most address that is not a trusted proxy is the client; what it sent to the left is ignored.
        for i in range(4):
            forwarded = f"192.0.2.{i}, 203.0.113.5, 10.1.1.1"
            status = await login_from(client, "10.0.0.2", f"user{i}", "guess", **{"x-forwarded-for": forwarded})
            assert status == (401 if i < 2 else 429)
        assert await login_from(client, "10.0.0.2", "x", "guess", **{"x-forwarded-for": "203.0.113.6"}) == 401
        # Not from a trusted proxy: the header is ignored, the peer is the client.
        for i in range(3):
            status = await login_from(client, "192.0.2.77", f"u{i}", "guess", **{"x-forwarded-for": f"10.9.9.{i}"})
            assert status == (401 if i < 2 else 429)
