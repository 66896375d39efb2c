"""Response cache: an identical request is answered without calling the provider, per user unless shared."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import fastmango
from fastmango import FastMango
from fastmango.ai import UsageRecord, agent, flush_usage, response_cache
from fastmango.ai.response_cache import clear_cache
from tests.ai.conftest import make_user
from tests.ai.test_metering import scripted, usage  # noqa: F401  (fixture)

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
