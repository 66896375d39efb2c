"""Redis stopped, hung or restarted empty, under a whole app (auth, tasks on arq, AI caches) served over HTTP.

Where Redis only speeds things up (the login limiter, the revocation cache, the AI response and tool caches)
requests go on and answer as usual; where Redis is the service (the task queue and its status API) they answer
503 with ``Retry-After``. Either way within the configured ``redis_socket_timeout`` (never the 30 s+ of a client
without one), and the app recovers without a restart. Revocations are durable in the database: a Redis that
restarted with its data lost lets no revoked token back in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from sqlmodel import SQLModel

import fastmango
from fastmango import FastMango, Settings
from fastmango.ai import agent, response_cache, use_agent
from fastmango.ai.agents import BoundAgent, _agents
from fastmango.auth import CurrentUser, User, optional_user
from fastmango.tasks.definition import _registry
from fastmango.testing import app_client
from tests.faults.servers import RedisServer

TIMEOUT = 1.0  # redis_socket_timeout of the app under test
BOUND = 10 * TIMEOUT  # generous: a 2-core CI machine; a bound, not a timing
RECOVERY = 15.0  # after a failure a component leaves Redis alone for 5 s (RedisOutage), then tries it again
PASSWORD = "correct horse battery staple"


@dataclass
class Counters:
    tool_runs: int = 0
    model_requests: int = 0


def scripted_model(counters: Counters) -> FunctionModel:
    """Calls the cached tool ``price``, then answers with its result."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        counters.model_requests += 1
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("price", {"title": "Dune"}, tool_call_id="c1")])
        return ModelResponse(parts=[TextPart("9.5")])

    return FunctionModel(respond)


def build_app(database_url: str, redis_url: str, counters: Counters) -> FastMango:
    settings = Settings(
        env="prod",
        secret_key="k" * 64,
        database_url=database_url,
        redis_url=redis_url,
        redis_socket_timeout=TIMEOUT,
        task_queue_name="fm-faults",
        password_argon2_time_cost=1,
        password_argon2_memory_kib=1024,
    )
    app = FastMango(settings=settings, discover=False, configure_logging=False)

    @fastmango.task
    async def outage_note(ctx: fastmango.TaskContext, text: str) -> str:
        return text

    @fastmango.tool(cache_ttl=60)
    async def price(title: str) -> float:
        """Price of a book."""
        counters.tool_runs += 1
        return 9.5

    agent("outage_shop", tools=["price"], model=scripted_model(counters), cache_ttl=60)

    @app.get("/public")
    async def public() -> dict[str, int]:
        return {"users": await User.objects.count()}

    @app.get("/maybe")
    async def maybe(user: User | None = Depends(optional_user)) -> dict[str, str | None]:
        return {"username": user.username if user else None}

    @app.get("/whoami")
    async def whoami(user: CurrentUser) -> dict[str, str]:
        return {"username": user.username}

    @app.post("/notes", status_code=202)
    async def enqueue() -> dict[str, str]:
        job = await outage_note.enqueue(text="hello")
        return {"job": job.id}

    @app.post("/ask")
    async def ask(shop: BoundAgent = Depends(use_agent("outage_shop"))) -> dict[str, str]:
        return {"answer": str((await shop.run("Dune?")).output)}

    return app


@pytest.fixture
def clean_registries() -> Iterator[None]:
    """The task, tool and agent this module declares leave the registries with it."""
    from fastmango.ai import registry

    tasks, tools, agents = dict(_registry), dict(registry._tools), dict(_agents)
    yield
    for live, before in ((_registry, tasks), (registry._tools, tools), (_agents, agents)):
        restore(live, before)


def restore(live: dict[str, Any], before: dict[str, Any]) -> None:
    live.clear()
    live.update(before)


@dataclass
class Served:
    client: httpx.AsyncClient
    app: FastMango
    counters: Counters
    access: str
    refresh: str
    staff: str

    def bearer(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.access}"}


@pytest.fixture
async def served(tmp_path: Path, redis_server: RedisServer, clean_registries: None) -> AsyncIterator[Served]:
    await asyncio.to_thread(redis_server.flush)
    response_cache._stores.clear()  # the cache stores are per Redis URL and process: a fresh one for this app
    counters = Counters()
    app = build_app(f"sqlite:///{tmp_path}/outage.sqlite3", redis_server.url_of(0), counters)
    async with app_client(app) as client:
        async with app.state.database.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)
        await User.objects.create_user("ada", password=PASSWORD)
        await User.objects.create_user("root", password=PASSWORD, is_staff=True)
        tokens = await login(client, "ada")
        staff = await login(client, "root")
        try:
            yield Served(client, app, counters, tokens["access_token"], tokens["refresh_token"], staff["access_token"])
        finally:  # a failed test leaves the server as it was: the app's shutdown, and the next test, need it
            await asyncio.to_thread(redis_server.resume)
            if not redis_server.pids():
                await asyncio.to_thread(redis_server.start)
            await response_cache.close_stores()
    response_cache._stores.clear()


async def login(client: httpx.AsyncClient, username: str) -> dict[str, Any]:
    response = await client.post("/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def timed(request: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    """The response and the seconds it took; a request that hangs past BOUND fails the test instead of hanging."""
    start = time.monotonic()
    try:
        response = await asyncio.wait_for(request, BOUND)
    except TimeoutError:
        pytest.fail(f"no answer within {BOUND} s: the request hangs")
    return response, time.monotonic() - start


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["type"] == "https://fastmango.dev/problems/service-unavailable"
    assert body["retry_after"] == int(response.headers["retry-after"])
    assert "127.0.0.1" not in response.text and "redis" not in response.text.lower()  # no internals in prod


Check = Callable[[Served], Awaitable[httpx.Response]]

#: What each request answers while Redis is out: the status, or "unavailable" (a 503 problem with Retry-After).
DURING_OUTAGE: dict[str, tuple[Check, int | str]] = {
    "login": (lambda s: s.client.post("/auth/token", data={"username": "ada", "password": PASSWORD}), 200),
    "wrong password": (lambda s: s.client.post("/auth/token", data={"username": "ada", "password": "x"}), 401),
    "public read": (lambda s: s.client.get("/public"), 200),
    "optional user": (lambda s: s.client.get("/maybe", headers=s.bearer()), 200),
    "authenticated": (lambda s: s.client.get("/whoami", headers=s.bearer()), 200),
    "auth/me": (lambda s: s.client.get("/auth/me", headers=s.bearer()), 200),
    "agent with cached tool": (lambda s: s.client.post("/ask", headers=s.bearer()), 200),
    "enqueue": (lambda s: s.client.post("/notes"), "unavailable"),
    "task API": (lambda s: s.client.get("/tasks/jobs", headers=s.bearer(s.staff)), "unavailable"),
    "task stats": (lambda s: s.client.get("/tasks/stats", headers=s.bearer(s.staff)), "unavailable"),
}


async def check_during_outage(served: Served) -> dict[str, float]:
    """Every request of DURING_OUTAGE, one after the other; the seconds each took."""
    elapsed: dict[str, float] = {}
    for name, (send, expected) in DURING_OUTAGE.items():
        response, elapsed[name] = await timed(send(served))
        if expected == "unavailable":
            assert_unavailable(response)
        else:
            assert response.status_code == expected, (name, response.text)
        assert elapsed[name] < BOUND, name
    return elapsed


async def check_recovered(served: Served) -> float:
    """Seconds until every request answers as with Redis up (enqueue 202 among them), without a restart."""
    start = time.monotonic()
    while (await served.client.post("/notes")).status_code != 202:
        assert time.monotonic() - start < RECOVERY, "enqueueing did not recover"
        await asyncio.sleep(0.2)
    for name, (send, expected) in DURING_OUTAGE.items():
        response = await send(served)
        wanted = {"enqueue": 202, "task API": 200, "task stats": 200}.get(name, expected)
        assert response.status_code == wanted, (name, response.text)
    return time.monotonic() - start


async def test_with_redis_stopped_requests_answer_at_once_and_the_app_recovers(
    served: Served, redis_server: RedisServer
) -> None:
    assert (await served.client.post("/notes")).status_code == 202
    assert (await served.client.post("/ask", headers=served.bearer())).json() == {"answer": "9.5"}
    await asyncio.to_thread(redis_server.stop)

    elapsed = await check_during_outage(served)
    assert max(elapsed.values()) < BOUND, elapsed
    # No cache while Redis is down: the tool ran again (the cached run before the outage ran it once).
    assert served.counters.tool_runs == 2

    await asyncio.to_thread(redis_server.start)  # empty: no persistence
    await check_recovered(served)


async def test_with_redis_hung_requests_answer_within_the_socket_timeout_and_the_app_recovers(
    served: Served, redis_server: RedisServer
) -> None:
    assert (await served.client.post("/notes")).status_code == 202
    with redis_server.paused():
        elapsed = await check_during_outage(served)
        # Several at once, each component meeting the hung server or its remembered failure.
        sends = [send for send, _ in DURING_OUTAGE.values()] * 2
        for response, took in await asyncio.gather(*(timed(send(served)) for send in sends)):
            assert response.status_code in {200, 401, 503}, response.text
            assert took < BOUND
    assert max(elapsed.values()) < BOUND, elapsed
    await check_recovered(served)


async def test_revoked_tokens_stay_refused_after_redis_restarts_empty(
    served: Served, redis_server: RedisServer
) -> None:
    client = served.client
    rotated = served.refresh
    renewed = await client.post("/auth/refresh", json={"refresh_token": rotated})
    assert renewed.status_code == 200, renewed.text
    # Checked once, so that Redis caches "not revoked" before the logout.
    assert (await client.get("/whoami", headers=served.bearer())).status_code == 200
    assert (await client.post("/auth/logout", headers=served.bearer())).status_code == 204
    assert (await client.get("/whoami", headers=served.bearer())).status_code == 401

    await asyncio.to_thread(redis_server.restart)  # no persistence: every key is gone
    await asyncio.to_thread(redis_server.flush)  # and certainly so
    for attempt in range(2):  # the first meets the connections the restart closed; the second a fresh one
        refused = await client.get("/whoami", headers=served.bearer())
        assert refused.status_code == 401, (attempt, refused.text)
        assert "revoked" in refused.json()["detail"]
        reused = await client.post("/auth/refresh", json={"refresh_token": rotated})
        assert reused.status_code == 401, (attempt, reused.text)
    # The rotated token's reuse revoked its whole family: the token issued in its place is refused too.
    child = renewed.json()["refresh_token"]
    assert (await client.post("/auth/refresh", json={"refresh_token": child})).status_code == 401
    # And the app otherwise works on the new, empty Redis.
    fresh = await login(client, "ada")
    assert (await client.get("/whoami", headers=served.bearer(fresh["access_token"]))).status_code == 200


@contextlib.asynccontextmanager
async def running_worker(served: Served) -> AsyncIterator[asyncio.Task[None]]:
    """An arq worker of the app's backend (as ``fastmango worker`` builds it) running in this event loop."""
    from fastmango.tasks.arq_backend import ArqBackend, stop_worker

    backend = served.app.state.tasks
    assert isinstance(backend, ArqBackend)
    worker = backend.create_worker([_registry["outage_note"]], poll_delay=0.05, handle_signals=False)
    task = asyncio.create_task(worker.async_run())
    try:
        yield task
    finally:
        await stop_worker(worker)


async def completed(served: Served) -> float:
    """Seconds until a job enqueued now is complete."""
    start = time.monotonic()
    job = (await served.client.post("/notes")).json()["job"]
    while True:
        info = await served.client.get(f"/tasks/jobs/{job}", headers=served.bearer(served.staff))
        if info.status_code == 200 and info.json()["state"] == "complete":
            return time.monotonic() - start
        assert time.monotonic() - start < RECOVERY, info.text
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("fault", ["stopped", "hung"])
async def test_the_worker_outlives_a_redis_outage_and_runs_jobs_again_after_it(
    served: Served, redis_server: RedisServer, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_worker(served) as worker:
        await completed(served)
        with caplog.at_level(logging.WARNING, logger="fastmango"):
            if fault == "stopped":
                await asyncio.to_thread(redis_server.stop)
            else:
                redis_server.pause()
            # The worker's next command fails within the socket timeout (it does not wait on the hung server) and
            # the worker goes on: it says so once, and does not stop.
            start = time.monotonic()
            while not any("task worker" in r.getMessage() for r in caplog.records):
                assert not worker.done(), worker.exception() if worker.done() else None
                assert time.monotonic() - start < BOUND, "the worker's command did not give up"
                await asyncio.sleep(0.05)
            await asyncio.sleep(3 * TIMEOUT)
            assert not worker.done(), worker.exception() if worker.done() else None
        if fault == "stopped":
            await asyncio.to_thread(redis_server.start)
        else:
            redis_server.resume()
        assert await completed(served) < RECOVERY
        assert not worker.done()
