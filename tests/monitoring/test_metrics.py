"""Metrics in one process: /metrics counts requests by route template, statements, job events and AI usage,
is refused without credentials, and the overview JSON sums a window."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic_ai.models.test import TestModel

import fastmango
from fastmango import FastMango
from fastmango.ai import agent
from fastmango.auth import User
from fastmango.tasks.errors import TaskFailed
from tests.monitoring.conftest import build_app, labels, scrape, staff_headers

REQUESTS = "fastmango_http_requests_total"


async def test_request_counter_matches_the_requests_by_route_template_method_and_status(
    client: httpx.AsyncClient,
) -> None:
    for pk in (1, 2, 3):
        assert (await client.get(f"/items/{pk}")).status_code == 200
    assert (await client.get("/items/x")).status_code == 422
    assert (await client.get("/boom")).status_code == 500

    samples = await scrape(client)
    requests = samples[REQUESTS]
    assert requests[labels(route="/items/{pk}", method="GET", status="200")] == 3
    assert requests[labels(route="/items/{pk}", method="GET", status="422")] == 1
    assert requests[labels(route="/boom", method="GET", status="500")] == 1
    duration = samples["fastmango_http_request_duration_seconds_count"]
    assert duration[labels(route="/items/{pk}", method="GET")] == 4
    inf = samples["fastmango_http_request_duration_seconds_bucket"][
        labels(route="/items/{pk}", method="GET", le="+Inf")
    ]
    assert inf == 4
    assert samples["fastmango_db_statements_per_request_sum"][()] >= 3  # one count(*) per answered /items
    assert samples["fastmango_db_statements_total"][()] >= 3
    [(process_labels, rss)] = samples["fastmango_process_resident_memory_bytes"].items()
    assert rss > 1_000_000 and dict(process_labels)["process"].endswith(f":{__import__('os').getpid()}")
    assert samples["fastmango_http_requests_in_flight"][process_labels] == 1  # the scrape itself


async def test_unknown_paths_count_under_one_label_not_the_path(client: httpx.AsyncClient) -> None:
    for path in ("/nope/1", "/nope/2", "/nowhere"):
        assert (await client.get(path)).status_code == 404
    requests = (await scrape(client))[REQUESTS]
    assert requests[labels(route="<unmatched>", method="GET", status="404")] == 3
    assert not [key for key in requests if "/no" in dict(key)["route"]]


async def test_metrics_needs_the_token_or_a_staff_user_with_monitoring_view(
    client: httpx.AsyncClient, app: FastMango
) -> None:
    anonymous = await client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
    user = await staff_headers(client, "ann", staff=False)
    refused = await client.get("/metrics", headers=user)
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    assert (await client.get("/metrics", headers=await staff_headers(client, "bo", grant=False))).status_code == 403
    assert (await client.get("/metrics", headers=await staff_headers(client, "cy"))).status_code == 200
    await scrape(client)
    assert "/metrics" not in app.openapi()["paths"]


async def test_a_slow_statement_appears_by_shape_with_its_sql(postgres_database: str) -> None:
    from sqlalchemy import text

    from tests.auth.conftest import started

    # Far apart: a loaded machine must not make the fast count look slow.
    app = build_app(postgres_database, metrics_slow_statement_ms=250)
    async with started(app) as client:
        for delay in (0.3, 0.35):  # one shape: the values are parameters
            async with app.state.database.engine.connect() as conn:
                await conn.execute(text("SELECT pg_sleep(:delay)"), {"delay": delay})
        await User.objects.count()  # fast: not listed
        headers = await staff_headers(client, "root")
        overview = (await client.get("/admin/api/monitoring/overview?window=15m", headers=headers)).json()
        [slow] = [s for s in overview["slow_statements"] if "pg_sleep" in (s["sql"] or "")]
        assert slow["count"] == 2 and slow["total_ms"] >= 650 and slow["sql"].startswith("SELECT pg_sleep(")
        assert not [s for s in overview["slow_statements"] if "count(*)" in (s["sql"] or "")]
        assert overview["slow_statement_count"] >= 2
        counted = (await scrape(client))["fastmango_db_slow_statements_total"]
        assert counted[labels(shape=slow["shape"])] == 2
        seconds = (await scrape(client))["fastmango_db_slow_statement_seconds_total"][labels(shape=slow["shape"])]
        assert seconds >= 0.65


async def test_job_events_count_successes_retries_and_failures_on_the_inline_backend(
    client: httpx.AsyncClient, app: FastMango, restore_tasks: None
) -> None:
    attempts = {"flaky": 0}

    @fastmango.task(name="m_ok")
    async def ok(ctx: fastmango.TaskContext) -> int:
        return 1

    @fastmango.task(name="m_flaky", retries=1, backoff=0.01)
    async def flaky(ctx: fastmango.TaskContext) -> int:
        attempts["flaky"] += 1
        if attempts["flaky"] == 1:
            raise ValueError("first time")
        return 2

    @fastmango.task(name="m_broken", retries=1, backoff=0.01)
    async def broken(ctx: fastmango.TaskContext) -> int:
        raise ValueError("always")

    for job in [await ok.enqueue(), await ok.enqueue(), await flaky.enqueue()]:
        await job.result(timeout=10)
    with pytest.raises(TaskFailed):
        await (await broken.enqueue()).result(timeout=10)
    await asyncio.sleep(0.05)
    samples = await scrape(client)
    runs = samples["fastmango_task_runs_total"]
    assert runs[labels(task="m_ok", outcome="succeeded")] == 2
    assert runs[labels(task="m_flaky", outcome="retried")] == 1
    assert runs[labels(task="m_flaky", outcome="succeeded")] == 1
    assert runs[labels(task="m_broken", outcome="retried")] == 1
    assert runs[labels(task="m_broken", outcome="failed")] == 1
    assert samples["fastmango_task_jobs_queued_total"][labels(task="m_ok")] == 2
    assert samples["fastmango_task_wait_seconds_count"][labels(task="m_flaky")] == 2
    assert samples["fastmango_task_run_duration_seconds_count"][labels(task="m_broken")] == 2
    summary = await app.state.monitor.window(900)
    assert (summary.tasks.succeeded, summary.tasks.retried, summary.tasks.failed) == (3, 2, 1)


async def test_ai_requests_tokens_and_cache_hits_are_counted(client: httpx.AsyncClient, app: FastMango) -> None:
    from fastmango.ai import registry
    from fastmango.ai.agents import _agents

    tools, agents = dict(registry._tools), dict(_agents)
    try:
        helper = agent("m_helper", model=TestModel(custom_output_text="hi"))
        await helper.run("hello")
        await helper.run("again")
    finally:
        registry._tools.clear()
        registry._tools.update(tools)
        _agents.clear()
        _agents.update(agents)
    samples = await scrape(client)
    requests = samples["fastmango_ai_requests_total"]
    assert sum(value for key, value in requests.items() if dict(key)["agent"] == "m_helper") == 2
    tokens = samples["fastmango_ai_tokens_total"]
    assert sum(tokens.values()) > 0
    summary = await app.state.monitor.window(900)
    assert summary.ai.requests == 2 and summary.ai.input_tokens > 0 and summary.ai.cache_hit_rate == 0.0


async def test_the_overview_sums_the_window_for_staff_with_monitoring_view(
    client: httpx.AsyncClient, app: FastMango
) -> None:
    for pk in range(4):
        await client.get(f"/items/{pk}")
    await client.get("/boom")
    headers = await staff_headers(client, "root")
    response = await client.get("/admin/api/monitoring/overview", params={"window": "1h"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["seconds"] == 3600 and body["resolution"] == "minute"
    items = [r for r in body["slowest_routes"] if r["route"] == "/items/{pk}"]
    assert items[0]["requests"] == 4 and items[0]["p95_ms"] is not None
    assert body["errors"] == 1 and body["requests"] >= 6  # the login, the user's grant... and the 5 above
    assert body["latency_p50_ms"] <= body["latency_p95_ms"] <= body["latency_p99_ms"]
    assert body["processes"] == 1 and body["timeline"][-1]["requests"] == body["requests"]
    assert body["error_rate"] > 0 and await app.state.monitor.value("errors", 3600) == 1
    assert 0 < (await app.state.monitor.value("error_rate", 3600) or 0) <= body["error_rate"]
    day = (await client.get("/admin/api/monitoring/overview?window=24h", headers=headers)).json()
    assert day["resolution"] == "hour" and day["errors"] == 1
    assert (await client.get("/admin/api/monitoring/overview?window=2d", headers=headers)).status_code == 422
    assert (await client.get("/admin/api/monitoring/overview")).status_code == 401
    refused = await client.get("/admin/api/monitoring/overview", headers=await staff_headers(client, "x", grant=False))
    assert refused.status_code == 403
    with pytest.raises(KeyError, match="error_rate"):
        await app.state.monitor.value("eror_rate", 60)


async def test_metrics_off_installs_nothing(tmp_path: object) -> None:
    from tests.auth.conftest import started

    app = build_app(f"sqlite:///{tmp_path}/off.sqlite3", metrics=False)
    async with started(app) as client:
        assert (await client.get("/metrics")).status_code == 404
        assert not hasattr(app.state, "monitor")
