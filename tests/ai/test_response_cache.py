"""Response cache: an identical request is answered without calling the provider, per user unless shared."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest

import fastmango
from fastmango import FastMango
from fastmango.ai import UsageRecord, agent, flush_usage, response_cache
from fastmango.ai.response_cache import clear_cache
from tests.ai.conftest import make_user
from tests.ai.test_metering import scripted, usage  # noqa: F401  (fixture)
from tests.faults.servers import RedisServer, free_port

pytestmark = pytest.mark.usefixtures("usage")


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest, app: FastMango) -> AsyncIterator[str]:
    """The app's settings on the in-memory store, or on the real Redis (the test database of ``redis_url``)."""
    if request.param == "redis":
        app.settings.redis_url = str(request.getfixturevalue("redis_url"))
    response_cache._stores.clear()
    yield request.param
    await response_cache.close_stores()  # the app may still be running: its stores' connections end here
    response_cache._stores.clear()


async def test_second_identical_run_is_a_hit_with_no_model_request(
    app: FastMango,
    backend: str,
) -> None:
    await clear_cache(app.settings)
    ann, bob = await make_user("ann"), await make_user("bob")
    model, calls = scripted("Dune is 412 pages")
    support = agent("support", model=model, cache_ttl=60)
    first = await support.bind(ann, app=app).run("how long is Dune?")
    second = await support.bind(ann, app=app).run("how long is Dune?")
    assert (first.output, second.output, calls[0]) == ("Dune is 412 pages", "Dune is 412 pages", 1)
    await support.bind(bob, app=app).run("how long is Dune?")  # another user misses
    assert calls[0] == 2
    await support.bind(ann, app=app).run("and Messiah?")  # another prompt misses
    assert calls[0] == 3
    await flush_usage()
    hits = await UsageRecord.objects.filter(cache_hit=True)
    assert [(h.user_id, h.requests, h.input_tokens, h.agent) for h in hits] == [(ann.id, 0, 0, "support")]
    assert await clear_cache(app.settings, "support") >= 3


async def test_shared_agent_answers_every_user_from_one_entry(
    app: FastMango,
    backend: str,
) -> None:
    await clear_cache(app.settings)
    ann, bob = await make_user("ann"), await make_user("bob")
    model, calls = scripted("hello")
    faq = agent("faq", model=model, cache_ttl=60, shared=True)
    await faq.bind(ann, app=app).run("hi")
    await faq.bind(bob, app=app).run("hi")
    assert calls[0] == 1


async def test_errors_are_not_cached(app: FastMango, backend: str) -> None:
    await clear_cache(app.settings)
    attempts = [0]
    model, _ = scripted(RuntimeError("provider down"))
    flaky = agent("flaky", model=model, cache_ttl=60)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            await flaky.bind(app=app).run("hi")
        attempts[0] += 1
    await flush_usage()
    assert await UsageRecord.objects.filter(status="error").count() == 2


async def test_tool_results_with_cache_ttl_are_reused(app: FastMango) -> None:
    response_cache._stores.clear()
    runs = []

    @fastmango.tool(cache_ttl=60)
    async def price(title: str) -> float:
        """Price of a book."""
        runs.append(title)
        return 9.5

    for _ in range(2):
        model, _ = scripted(("price", {"title": "Dune"}), "9.5")
        await agent("shop", tools=["price"], model=model).bind(app=app).run("price of Dune?")
    assert runs == ["Dune"]
    await flush_usage()
    assert await UsageRecord.objects.filter(kind="tool", cache_hit=True).count() == 1


class Shop:
    """Runs of an agent with cached responses whose model calls a cached tool, counting what really ran."""

    def __init__(self, app: FastMango) -> None:
        self.app = app
        self.tool_runs = 0
        self.model_requests = 0

        @fastmango.tool(cache_ttl=60)
        async def price(title: str) -> float:
            """Price of a book."""
            self.tool_runs += 1
            return 9.5

    async def run(self) -> str:
        model, calls = scripted(("price", {"title": "Dune"}), "9.5")  # a new script each run: call, then answer
        result = await agent("shop", tools=["price"], model=model, cache_ttl=60).bind(app=self.app).run("Dune?")
        self.model_requests += calls[0]
        return str(result.output)


async def test_a_run_with_a_tool_call_is_answered_from_the_cache_the_second_time(app: FastMango, backend: str) -> None:
    await clear_cache(app.settings)
    shop = Shop(app)
    assert [await shop.run() for _ in range(2)] == ["9.5", "9.5"]
    # The second run's later request has the first's answer from the cache in its history: no usage, same key.
    assert (shop.model_requests, shop.tool_runs) == (2, 1)


async def test_with_redis_down_runs_go_on_without_the_caches_and_warn_once(
    app: FastMango, caplog: pytest.LogCaptureFixture
) -> None:
    app.settings.redis_url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    response_cache._stores.clear()
    shop = Shop(app)
    with caplog.at_level(logging.WARNING, logger="fastmango.redis"):
        outputs = [await shop.run() for _ in range(3)]
    assert outputs == ["9.5"] * 3
    assert (shop.model_requests, shop.tool_runs) == (6, 3)  # no cache: every request and call was made
    assert len([r for r in caplog.records if "Redis is unavailable" in r.getMessage()]) == 1


async def test_with_redis_hung_a_run_waits_at_most_the_socket_timeout_and_the_cache_recovers(
    app: FastMango, redis_server: RedisServer
) -> None:
    app.settings.redis_url = redis_server.url_of(3)
    app.settings.redis_socket_timeout = 1.0
    response_cache._stores.clear()
    shop = Shop(app)
    store = response_cache.cache_store(app.settings)
    store.outage.retry_seconds = 0.5  # after a failure, Redis is left alone this long (5 s by default)
    with redis_server.paused():
        started = time.monotonic()
        assert await shop.run() == "9.5"
        hung = time.monotonic() - started
    assert hung < 10  # 1 s socket timeout, then Redis is skipped: not the 30 s+ of a client without one
    assert (shop.model_requests, shop.tool_runs) == (2, 1)
    await asyncio.sleep(store.outage.retry_seconds)
    await clear_cache(app.settings)
    for _ in range(2):
        assert await shop.run() == "9.5"
    assert (shop.model_requests, shop.tool_runs) == (4, 2)  # after the recovery, the second run came from Redis
    await response_cache.close_stores()


def test_an_entry_this_version_cannot_read_is_a_miss_not_an_error() -> None:
    assert response_cache.load_response("not json") is None
    assert response_cache.load_response('{"response": {"kind": "a shape of an older version"}}') is None
