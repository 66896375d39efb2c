"""The request body cap (fastmango/core/limits.py): a 413 problem without reading the body past the cap."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import Request
from starlette.types import Message, Receive, Scope, Send

from fastmango import FastMango
from fastmango.core.request_middleware import RequestMiddleware
from tests.auth.conftest import make_settings, started

MiB = 1024 * 1024
CHUNK = 64 * 1024


class Body:
    """An ASGI ``receive`` with a body of ``size`` bytes in 64 KiB chunks, counting what the app pulls."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pulled = 0

    async def __call__(self) -> Message:
        if self.pulled >= self.size:
            return {"type": "http.disconnect"}
        chunk = min(CHUNK, self.size - self.pulled)
        self.pulled += chunk
        return {"type": "http.request", "body": b"x" * chunk, "more_body": self.pulled < self.size}


async def call(app: Any, path: str, body: Body, *, content_length: bool) -> tuple[int, dict[str, str], bytes]:
    """One POST straight into the ASGI app: the status, the headers and the response body."""
    headers = [(b"content-type", b"application/json")]
    if content_length:
        headers.append((b"content-length", str(body.size).encode()))
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, body, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], response_headers, b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture
async def app(tmp_path: Any) -> Any:
    app = FastMango(settings=make_settings(f"sqlite:///{tmp_path}/limits.sqlite3"), configure_logging=False)

    @app.post("/uploads", max_body_size=3 * MiB)
    async def upload(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @app.post("/tiny", max_body_size=10)
    async def tiny(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    async with started(app):
        yield app


@pytest.mark.parametrize("content_length", [True, False], ids=["content-length", "chunked"])
async def test_a_100_mb_anonymous_body_to_refresh_is_a_413_and_never_read_past_the_cap(
    app: Any, content_length: bool
) -> None:
    body = Body(100 * MiB)
    status, headers, payload = await call(app, "/auth/refresh", body, content_length=content_length)
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(payload)
    assert problem["type"] == "https://fastmango.dev/problems/body-too-large"
    assert problem["max_body_size"] == MiB and str(MiB) in problem["detail"]
    # A declared length above the cap is refused before a byte is read; a chunked body one chunk past it.
    assert body.pulled == (0 if content_length else MiB + CHUNK)


async def test_a_body_within_the_cap_is_read_whole(app: Any) -> None:
    body = Body(MiB)
    status, _, payload = await call(app, "/uploads", body, content_length=False)
    assert (status, json.loads(payload)) == (200, {"size": MiB})


@pytest.mark.parametrize("content_length", [True, False], ids=["content-length", "chunked"])
async def test_a_routes_max_body_size_overrides_the_setting_both_ways(app: Any, content_length: bool) -> None:
    status, _, payload = await call(app, "/uploads", Body(2 * MiB), content_length=content_length)
    assert (status, json.loads(payload)) == (200, {"size": 2 * MiB})
    body = Body(4 * MiB)
    status, headers, _ = await call(app, "/uploads", body, content_length=content_length)
    assert status == 413 and headers["content-type"] == "application/problem+json"
    assert body.pulled <= 3 * MiB + CHUNK
    status, headers, payload = await call(app, "/tiny", Body(11), content_length=content_length)
    assert status == 413 and headers["content-type"] == "application/problem+json"
    assert json.loads(payload)["type"] == "https://fastmango.dev/problems/body-too-large"


async def test_the_cap_is_the_max_body_size_setting(tmp_path: Any) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/limits.sqlite3", max_body_size=100)
    app = FastMango(settings=settings, configure_logging=False)
    async with started(app) as client:
        response = await client.post("/auth/refresh", json={"refresh_token": "x" * 200})
        assert response.status_code == 413, response.text
        assert response.json()["max_body_size"] == 100
        assert (await client.post("/auth/refresh", json={"refresh_token": "x"})).status_code == 401


async def test_a_body_read_outside_the_exception_handlers_still_gets_a_413_problem() -> None:
    async def reading_app(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"read"})

    body = Body(10 * MiB)
    limited = RequestMiddleware(reading_app, max_body_size=2 * CHUNK)
    status, headers, payload = await call(limited, "/", body, content_length=False)
    assert status == 413 and headers["content-type"] == "application/problem+json"
    assert json.loads(payload)["status"] == 413
    assert body.pulled == 3 * CHUNK
