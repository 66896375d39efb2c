"""The AI plugin's lifetime: what an app opens for its agents, it closes when it stops."""

from __future__ import annotations

import gc
import logging
import warnings
from pathlib import Path

import pytest
from sqlmodel import SQLModel

import fastmango
from fastmango import FastMango
from fastmango.ai import agent, response_cache
from fastmango.ai.response_cache import clear_cache
from fastmango.tasks.definition import unregister
from fastmango.testing import app_client
from tests.ai.conftest import build_app
from tests.ai.test_metering import scripted


async def test_stopping_the_app_closes_the_response_caches_redis_connections(tmp_path: Path, redis_url: str) -> None:
    app = build_app(f"sqlite:///{tmp_path}/cache.sqlite3", redis_url=redis_url)
    response_cache._stores.clear()
    model, calls = scripted("ok")
    cached = agent("cached", model=model, cache_ttl=60)
    async with app_client(app):
        async with app.state.database.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all, tables=[SQLModel.metadata.tables["ai_usage"]])
        await clear_cache(app.settings, "cached")
        await cached.bind(app=app).run("hi")
        await cached.bind(app=app).run("hi")
        assert calls[0] == 1  # the second run was answered from Redis
        await clear_cache(app.settings, "cached")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response_cache._stores.clear()  # the stores go: a connection still open would say so now
        gc.collect()
    assert [str(w.message) for w in caught if "unclosed" in str(w.message)] == []


async def test_a_worker_stop_with_mcp_on_shuts_the_ai_plugin_down_cleanly(
    tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The worker starts the app's plugins in arq's main task and stops them in another one (fastmango.tasks.worker).
    from fastmango.tasks.worker import serve
    from tests.tasks.conftest import delete_queue_keys, make_settings

    settings = make_settings(tmp_path, redis_url, ai_mcp=True)
    app = FastMango(settings=settings, configure_logging=False)
    app.configure_plugins()

    @fastmango.task(name="t_mcp_noop")
    async def noop(ctx: fastmango.TaskContext) -> None:
        pass

    try:
        with caplog.at_level(logging.INFO):
            await serve(app, app.state.tasks, [noop], burst=True, poll_delay=0.01, grace=0)
    finally:
        unregister("t_mcp_noop")
        await delete_queue_keys(redis_url, settings.task_queue_name)
    assert "StreamableHTTP session manager shutting down" in caplog.text  # MCP was on, and stopped
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
