"""An unhandled exception is answered with its problem response on a connection that stays open, and logged once
with the request id; served by a real uvicorn on a free port, through one keep-alive httpx client."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import Request

from fastmango import FastMango, Settings
from fastmango.core.errors import ProblemError
from fastmango.core.logging import RequestIdFilter


class _RaisingMiddleware:
    """Raises before the routes run, on /from-middleware: outside the routes' exception handlers."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/from-middleware":
            raise ProblemError(503, "A service this middleware needs is down.", headers={"Retry-After": "3"})
        await self.app(scope, receive, send)


class _MiddlewarePlugin:
    name = "raising-middleware"

    def install(self, app: FastMango) -> None:
        app.add_middleware(_RaisingMiddleware)

    def configure(self, app: FastMango) -> None:
        pass

    async def startup(self, app: FastMango) -> None:
        pass

    async def shutdown(self, app: FastMango) -> None:
        pass


def build_app() -> FastMango:
    settings = Settings(env="prod", secret_key="k" * 64)
    app = FastMango(settings=settings, plugins=[_MiddlewarePlugin()], discover=False, configure_logging=False)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("internal detail that must stay in the log")

    @app.get("/peer")
    async def peer(request: Request) -> dict[str, int]:
        assert request.client is not None
        return {"port": request.client.port}

    return app


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(build_app(), host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_a_500_keeps_the_connection_open_for_the_next_request(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, limits=httpx.Limits(max_connections=1)) as client:
        before = (await client.get("/peer")).json()["port"]
        for _ in range(3):
            response = await client.get("/boom")
            assert response.status_code == 500
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers.get("connection") != "close"
            assert "internal detail" not in response.text
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/peer")).json()["port"] == before  # the same TCP connection throughout


async def test_a_500_is_logged_once_with_the_request_id(base_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RequestIdFilter())
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get("/boom")
    request_id = response.json()["request_id"]
    assert response.headers.get_list("x-request-id") == [request_id]
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1, [record.getMessage() for record in errors]  # not again by uvicorn
    assert errors[0].name == "fastmango.errors"
    assert errors[0].exc_info is not None and "internal detail" in str(errors[0].exc_info[1])
    assert getattr(errors[0], "request_id", None) == request_id
    access = [record.getMessage() for record in caplog.records if record.name == "fastmango.request"]
    assert len(access) == 1 and access[0].startswith("GET /boom 500 ")


async def test_an_error_a_middleware_raises_gets_its_own_problem_and_the_connection_stays(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, limits=httpx.Limits(max_connections=1)) as client:
        before = (await client.get("/peer")).json()["port"]
        response = await client.get("/from-middleware")
        assert response.status_code == 503
        assert response.headers["retry-after"] == "3"
        assert response.headers["content-type"] == "application/problem+json"
        assert (await client.get("/peer")).json()["port"] == before
