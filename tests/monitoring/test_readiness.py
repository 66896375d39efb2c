"""``GET /ready`` (fastmango.monitoring.readiness): concurrent checks, each bounded, 503 naming what failed."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from fastmango import FastMango, Settings
from fastmango.monitoring.readiness import NotReady, Readiness


async def ok() -> dict[str, Any]:
    return {}


async def hangs() -> dict[str, Any]:
    await asyncio.sleep(10)
    return {}


async def refuses() -> dict[str, Any]:
    raise ConnectionRefusedError("db.internal:5432 refused")


async def test_ready_is_200_on_sqlite_with_the_database_check() -> None:
    app = FastMango(settings=Settings(database_url="sqlite+aiosqlite:///ready.sqlite3"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["database"]["status"] == "ok"
    assert set(response.json()["checks"]) == {"database"}  # no Redis, inline tasks: nothing else to check
    assert "/ready" in app.openapi()["paths"]


async def test_failed_checks_are_named_without_their_messages_and_bounded_by_the_timeout() -> None:
    readiness = Readiness(
        Settings(ready_timeout_seconds=0.2), checks={"database": refuses, "redis": hangs, "worker": ok}
    )
    started = time.monotonic()
    passed, checks = await readiness.run()
    assert time.monotonic() - started < 1  # concurrent, each bounded
    assert not passed
    assert checks["database"]["error"] == "ConnectionRefusedError"
    assert checks["redis"]["error"] == "timed out after 0.2 s"
    assert checks["worker"]["status"] == "ok"


async def test_requests_arriving_together_share_one_round_of_checks() -> None:
    calls = 0

    async def counted() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return {}

    readiness = Readiness(Settings(), checks={"database": counted})
    await asyncio.gather(*(readiness.run() for _ in range(20)))
    assert calls == 1


async def test_a_check_that_says_not_ready_fails_with_its_reason() -> None:
    async def no_worker() -> dict[str, Any]:
        raise NotReady("no live worker")

    readiness = Readiness(Settings(), checks={"worker": no_worker})
    passed, checks = await readiness.run()
    assert not passed and checks["worker"] == {
        "status": "down",
        "ms": checks["worker"]["ms"],
        "error": "no live worker",
    }
