"""Memory under anonymous floods (issue 13, item 1): limited logins store nothing, oversized bodies are not read.

The app runs in a uvicorn subprocess of its own (inline backend, the in-process login limiter), driven over a
real socket, so that the figures are the server's alone; a probe route reports the limiter's size and RSS.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

#: Logins sent with a 1 MiB username, a 64 KiB one and a distinct 150-character one, once the address is limited.
FLOOD = 1000
#: Oversized bodies sent after the flood (settings.max_body_size is 1 MiB), half with a Content-Length, half chunked.
OVERSIZED = 10
OVERSIZED_BYTES = 100 * 2**20
#: RSS growth allowed for the whole flood and the oversized bodies: a few allocator arenas and the server's
#: buffers, far below what keeping anything would cost (before the fixes: 1,000 x 1 MiB usernames kept for 300 s,
#: ~1 GiB; one 100 MB body read whole, +237 MiB).
RSS_BOUND_MIB = 20

APP = textwrap.dedent(
    """
    import sys
    from fastmango import FastMango, Settings

    settings = Settings(
        database_url=f"sqlite:///{sys.argv[2]}", secret_key="s" * 64, task_backend="inline",
        password_argon2_time_cost=1, password_argon2_memory_kib=1024,
    )
    app = FastMango(settings=settings, configure_logging=False)

    @app.get("/__probe__")
    async def probe() -> dict[str, float]:
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * 4096 / 2**20
        return {"store": len(app.state.auth.limiter), "rss": rss}

    import sqlalchemy
    from sqlmodel import SQLModel
    engine = sqlalchemy.create_engine(f"sqlite:///{sys.argv[2]}")
    SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables["auth_user"]])
    engine.dispose()

    import uvicorn
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", proxy_headers=False)
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", APP, str(port), str(tmp_path / "memory.sqlite3")])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/__probe__", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_a_flood_of_limited_logins_with_huge_usernames_leaves_memory_bounded(server: str) -> None:
    statuses: dict[str, int] = {}
    with httpx.Client(base_url=server, timeout=30) as client:

        def attempt(username: str) -> None:
            body = b"username=" + username.encode() + b"&password=x"  # usernames of [0-9a-z]: nothing to escape
            headers = {"content-type": "application/x-www-form-urlencoded"}
            try:
                status = str(client.post("/auth/token", content=body, headers=headers).status_code)
            except httpx.TransportError:  # the server answered early (413) and closed before the body was sent
                status = "closed"
            statuses[status] = statuses.get(status, 0) + 1

        for i in range(50):  # auth_login_max_failures_per_address: the address is limited from now on
            attempt(f"user{i}")
        for _ in range(20):  # warm up: the allocator's high-water mark for a 1 MiB body
            attempt("w" * 2**20)
        before = client.get("/__probe__").json()
        for i in range(FLOOD):
            attempt(f"{i:06d}" + "x" * 2**20)
        for i in range(FLOOD):
            attempt(f"{i:06d}" + "z" * 2**16)
        for i in range(FLOOD):
            attempt(f"{i:06d}" + "y" * 144)
        for i in range(OVERSIZED):
            oversized(client, chunked=i % 2 == 1, statuses=statuses)
        after = client.get("/__probe__").json()
    figures = {"statuses": dict(statuses), "before": before, "after": after}
    # 1 MiB usernames are refused before any work: 413 from the body cap (without it 400 from the form parser,
    # or 422 from the username cap); 64 KiB ones 422; 150-character ones are limited (429).
    assert statuses.pop("413 body", 0) + statuses.pop("closed body", 0) == OVERSIZED, figures
    assert statuses.pop("401") == 50 and statuses.pop("429") == FLOOD, figures
    assert statuses.get("422", 0) >= FLOOD and sum(statuses.values()) == 2 * FLOOD + 20, figures
    assert set(statuses) <= {"400", "413", "422", "closed"}, figures
    # The deterministic part: a limited attempt stores nothing in the limiter.
    assert after["store"] == before["store"] == 101, figures
    assert after["rss"] - before["rss"] < RSS_BOUND_MIB, figures


def oversized(client: httpx.Client, *, chunked: bool, statuses: dict[str, int]) -> None:
    """POST a body of OVERSIZED_BYTES to /auth/refresh, chunked (no Content-Length) or not; counts the outcome."""
    chunk = b"x" * 2**20

    def chunks() -> Iterator[bytes]:
        for _ in range(OVERSIZED_BYTES // len(chunk)):
            yield chunk

    headers = {"content-type": "application/json"}
    if not chunked:
        headers["content-length"] = str(OVERSIZED_BYTES)
    try:
        status = f"{client.post('/auth/refresh', content=chunks(), headers=headers).status_code} body"
    except httpx.TransportError:  # the server answered 413 and closed before the body was sent
        status = "closed body"
    statuses[status] = statuses.get(status, 0) + 1
