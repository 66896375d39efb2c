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
