"""The registry over MCP: an MCP client lists and calls tools at /mcp, each user seeing their own tools."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import uvicorn
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

import fastmango
from fastmango.ai import expose_model
from tests.ai.conftest import PASSWORD, build_app
from tests.db.models import Author, Book


@contextmanager
def running(app: Any) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


async def prepare(base: str) -> dict[str, str]:
    """Tables, two users and a book, through the running app's own database."""
    from sqlmodel import SQLModel

    from fastmango.auth import User, sync_permissions
    from fastmango.db import connected

    async with connected(base) as database:
        async with database.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)
        await sync_permissions()
        author = await Author.objects.create(name="Herbert")
        await Book.objects.create(title="Dune", pages=412, author_id=author.id)
        reader = await User.objects.create_user("reader", password=PASSWORD)
        await reader.grant("book.view")
        await User.objects.create_user("plain", password=PASSWORD)
    return {}


async def token(base_url: str, username: str) -> str:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/auth/token", data={"username": username, "password": PASSWORD})
        return str(response.json()["access_token"])


async def session_tools(url: str, access_token: str | None) -> tuple[list[str], Any]:
    headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=20) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        listed = await session.list_tools()
        called = await session.call_tool("book_list", {"filters": {"title__icontains": "dun"}})
        return sorted(tool.name for tool in listed.tools), called


def test_mcp_clients_see_and_call_only_their_users_tools(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/mcp.sqlite3"
    asyncio.run(prepare(url))
    app = build_app(url, ai_mcp=True)
    expose_model(Book, filter_fields=["title"])

    @fastmango.tool
    def ping() -> str:
        """Answers pong."""
        return "pong"

    with running(app) as base_url:
        reader_tools, reader_call = asyncio.run(
            session_tools(f"{base_url}/mcp/", asyncio.run(token(base_url, "reader")))
        )
        plain_tools, plain_call = asyncio.run(session_tools(f"{base_url}/mcp/", asyncio.run(token(base_url, "plain"))))
        anonymous_tools, _ = asyncio.run(session_tools(f"{base_url}/mcp/", None))
    assert reader_tools == ["book_get", "book_list", "ping"]
    assert plain_tools == ["ping"]
    assert anonymous_tools == ["ping"]
    assert not reader_call.is_error
    assert json.loads(reader_call.content[0].text)["items"][0]["title"] == "Dune"
    assert plain_call.is_error
    assert "may not use" in plain_call.content[0].text


async def bad_tokens(base_url: str, app: Any) -> dict[str, str]:
    """An access token each of the ways one is refused: malformed, expired, revoked (logged out)."""
    import datetime

    from fastmango.auth import User

    expired, _ = app.state.auth.tokens.issue(
        (await User.objects.get(username="reader")).id,
        "access",
        now=datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=2),
    )
    revoked = await token(base_url, "reader")
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/auth/logout", headers={"Authorization": f"Bearer {revoked}"})
        assert response.status_code == 204
    return {"malformed": "not-a-token", "expired": expired, "revoked": revoked}


def test_an_invalid_expired_or_revoked_token_is_a_401_not_anonymous(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/mcp.sqlite3"
    asyncio.run(prepare(url))
    app = build_app(url, ai_mcp=True)
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}

    async def attempts(base_url: str) -> dict[str, httpx.Response]:
        tokens = await bad_tokens(base_url, app)
        headers = {name: {"Authorization": f"Bearer {value}"} for name, value in tokens.items()}
        headers["basic"] = {"Authorization": "Basic cmVhZGVyOnNlY3JldA=="}
        async with httpx.AsyncClient(base_url=base_url) as client:
            return {
                name: await client.post("/mcp/", json=initialize, headers=accept | header)
                for name, header in headers.items()
            }

    with running(app) as base_url:
        responses = asyncio.run(attempts(base_url))
        anonymous = asyncio.run(session_tools(f"{base_url}/mcp/", None))[0]
    for name, response in responses.items():
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"].startswith("Bearer "), name
        assert response.headers["content-type"] == "application/problem+json", name
        assert response.json()["type"] == "https://fastmango.dev/problems/not-authenticated", name
    assert "expired" in responses["expired"].json()["detail"]
    assert 'error="invalid_token"' in responses["revoked"].headers["www-authenticate"]
    assert anonymous == []  # no header at all is still anonymous (and sees no tool here)


async def read_stream(client: httpx.AsyncClient, path: str, **headers: str) -> tuple[int, float]:
    """Open the MCP event stream, read it to its end; its status and how long it stayed open."""
    started = time.monotonic()
    async with client.stream("GET", path, headers={"Accept": "text/event-stream", **headers}) as response:
        async for _ in response.aiter_bytes():
            pass
    return response.status_code, time.monotonic() - started


def test_an_idle_event_stream_is_closed_after_the_idle_timeout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/mcp.sqlite3"
    asyncio.run(prepare(url))
    app = build_app(url, ai_mcp=True, ai_mcp_idle_timeout=0.5)

    async def stream(base_url: str) -> tuple[int, float]:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            return await read_stream(client, "/mcp/")

    with running(app) as base_url:
        status, seconds = asyncio.run(stream(base_url))
    assert status == 200
    assert seconds < 10  # 0.5 s idle timeout: it ended by itself, long before the client's 30 s


def test_open_streams_are_capped_per_user_and_for_anonymous_callers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/mcp.sqlite3"
    asyncio.run(prepare(url))
    app = build_app(url, ai_mcp=True, ai_mcp_max_anonymous_streams=2, ai_mcp_max_streams_per_user=1)

    async def scenario(base_url: str) -> dict[str, Any]:
        reader = {"Authorization": f"Bearer {await token(base_url, 'reader')}"}
        sse = {"Accept": "text/event-stream"}
        async with OpenStreams() as stack, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            opened = [await stack.enter(client.stream("GET", "/mcp/", headers=sse)) for _ in range(2)]
            third = await client.get("/mcp/", headers=sse)
            user_stream = await stack.enter(client.stream("GET", "/mcp/", headers=sse | reader))
            user_second = await client.get("/mcp/", headers=sse | reader)
            await stack.close_first()  # an anonymous stream ends: there is room for another, once the server sees it
            deadline = time.monotonic() + 10
            while (again := await stack.enter(client.stream("GET", "/mcp/", headers=sse))).status_code == 429:
                assert time.monotonic() < deadline, "the closed stream still counts"
                await stack.close_last()
                await asyncio.sleep(0.05)
            return {
                "opened": [r.status_code for r in opened],
                "third": third,
                "user": user_stream.status_code,
                "user_second": user_second,
                "again": again.status_code,
            }

    with running(app) as base_url:
        seen = asyncio.run(scenario(base_url))
    assert seen["opened"] == [200, 200] and seen["user"] == 200 and seen["again"] == 200
    for refused in (seen["third"], seen["user_second"]):
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) > 0


class OpenStreams:
    """Open streaming responses, closed in the order they were opened (``close_first`` ends the oldest)."""

    def __init__(self) -> None:
        self._open: list[Any] = []

    async def __aenter__(self) -> OpenStreams:
        return self

    async def enter(self, manager: Any) -> httpx.Response:
        response = await manager.__aenter__()
        self._open.append(manager)
        return response  # type: ignore[no-any-return]

    async def close_first(self) -> None:
        await self._open.pop(0).__aexit__(None, None, None)

    async def close_last(self) -> None:
        await self._open.pop().__aexit__(None, None, None)

    async def __aexit__(self, *exc: object) -> None:
        while self._open:
            await self.close_first()


def test_a_tool_error_names_no_exception_class_or_statement(tmp_path: Path) -> None:
    from sqlalchemy import text

    from fastmango.db import get_database

    url = f"sqlite:///{tmp_path}/mcp.sqlite3"
    asyncio.run(prepare(url))
    app = build_app(url, ai_mcp=True)

    @fastmango.tool
    async def book_report() -> str:
        """Counts books in a table that is not there."""
        async with get_database().engine.connect() as conn:
            await conn.execute(text("select count(*) from secret_ledger"))
        return "unreachable"

    async def call(mcp_url: str) -> Any:
        async with (
            httpx2.AsyncClient(timeout=20) as http,
            streamable_http_client(mcp_url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await session.call_tool("book_report", {})

    with running(app) as base_url:
        result = asyncio.run(call(f"{base_url}/mcp/"))
    message = result.content[0].text
    assert result.is_error
    assert message == "The database refused the request of the tool 'book_report'."
    for internal in ("Error", "secret_ledger", "select", "sqlite"):
        assert internal not in message


def test_with_no_anonymous_streams_allowed_an_anonymous_request_is_a_401(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/mcp.sqlite3"
    asyncio.run(prepare(url))
    app = build_app(url, ai_mcp=True, ai_mcp_max_anonymous_streams=0)

    async def attempt(base_url: str) -> tuple[httpx.Response, list[str]]:
        async with httpx.AsyncClient(base_url=base_url) as client:
            anonymous = await client.get("/mcp/", headers={"Accept": "text/event-stream"})
        tools, _ = await session_tools(f"{base_url}/mcp/", await token(base_url, "plain"))
        return anonymous, tools

    with running(app) as base_url:
        anonymous, tools = asyncio.run(attempt(base_url))
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == 'Bearer realm="mcp"'
    assert tools == []  # a user is served
