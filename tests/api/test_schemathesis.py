"""Property-based API test of the example blog, with schemathesis' own engine (``st run``): it generates requests
from the blog's OpenAPI document and checks every response against it, with every check schemathesis has
(``--checks all``): no server error; status code, content type, headers and body as documented; invalid data
refused and valid data accepted; 405 with ``Allow`` for methods a path does not have; a documented 401 when an
operation's credentials are left out; a deleted resource gone, a created one there.

Each database (SQLite in memory, and PostgreSQL, where integer, NUL and date-time bounds are the driver's) gets
a server of its own: this file, run as a script, serves the blog with uvicorn on a free port of 127.0.0.1 after
creating its tables afresh and seeding authors, tags, posts and a superuser. Two runs go against it, one after
the other, each with all four phases:

- examples (the bodies built from the models' field examples), coverage (boundary values, valid and invalid,
  and unexpected methods on every path), fuzzing (generated cases, valid and invalid) and stateful (chains of
  calls along the links schemathesis infers from the response schemas: ``POST /posts`` then
  ``GET``/``PATCH``/``DELETE /posts/{pk}`` with the id it returned);
- authenticated: every operation as the superuser, with a fresh token from a route of the harness
  (``/__harness__/token``, outside the OpenAPI document) whenever one is refused (``POST /auth/logout``
  revokes the token it is sent with): about 1,420 cases (examples 14, coverage 1,030, fuzzing 280, stateful 25
  scenarios of 99 calls along 63 inferred links);
- anonymous: the 20 operations that declare a security requirement, without credentials: about 770 cases,
  answered as documented (a 401, a 405 for a method the path does not have), never a 500.

The runs are deterministic (``generation.deterministic``, a fixed seed, no example database, no cache, one
worker) and bounded by the number of cases, not by time: both databases see the same cases. The whole file
takes about 60 s on the 2-CPU machine (SQLite 30 s, PostgreSQL 27 s). A failure shows schemathesis' report
(the check that failed, the response, the request as curl) and the server's log (tracebacks of 500s). To run
one database alone::

    .venv/bin/pytest tests/api/test_schemathesis.py -k sqlite

The blog's models cannot be imported into the root test session (its tables ``author`` and ``tag`` share
SQLModel's one ``MetaData`` with the models of ``tests/db/models.py``), hence the server process.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serving import served

ROOT = Path(__file__).resolve().parents[2]
BLOG = ROOT / "examples" / "blog"
ST = Path(sys.executable).with_name("st")
ENVIRONMENT = {
    "FASTMANGO_ENV": "test",
    "FASTMANGO_LOG_LEVEL": "WARNING",
    "FASTMANGO_PASSWORD_ARGON2_TIME_COST": "1",
    "FASTMANGO_PASSWORD_ARGON2_MEMORY_KIB": "1024",
}
USERNAME, PASSWORD = "root", "schemathesis-root-password"
# A route of the test harness, outside the blog's OpenAPI document: logs the superuser in, returns the token.
TOKEN_PATH = "/__harness__/token"
PHASES = ("examples", "coverage", "fuzzing", "stateful")

# schemathesis.toml of both runs. The coverage phase generates every boundary case the schema defines (valid,
# invalid and the unexpected methods: no max-examples there); max-examples bounds fuzzing and stateful.
COMMON = """
seed = 20240601
workers = 1
color = false
cache.enabled = false
[generation]
deterministic = true
database = "none"
max-examples = {fuzzing}
[phases.stateful]
max-steps = 6
generation.max-examples = {stateful}
[output.sanitization]
keys-to-sanitize = ["authorization", "cookie"]
sensitive-markers = ["password"]
[auth]
auto-signup = false
"""
AUTHENTICATED = (
    COMMON.format(fuzzing=10, stateful=25)
    + f"""
[auth.dynamic.openapi.OAuth2PasswordBearer]
path = "{TOKEN_PATH}"
method = "post"
extract_selector = "/access_token"
"""
)
ANONYMOUS = COMMON.format(fuzzing=5, stateful=5)
# Only the operations that need a user: the public ones are the same code with or without credentials.
SECURED = ("--include-by", "/security/0/OAuth2PasswordBearer == []")


class SeededBlog:
    """The blog app; its lifespan also creates the tables afresh and seeds authors, tags, posts and a superuser."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif scope["type"] == "http" and scope["path"] == TOKEN_PATH:
            from starlette.responses import JSONResponse

            await JSONResponse({"access_token": await self.login()})(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def lifespan(self, receive: Any, send: Any) -> None:
        from asgi_lifespan import LifespanManager

        await receive()  # lifespan.startup
        started = False
        try:
            async with LifespanManager(self.app):
                await self.seed()
                started = True
                await send({"type": "lifespan.startup.complete"})
                await receive()  # lifespan.shutdown
        except Exception as exc:
            failed = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
            await send({"type": failed, "message": f"{type(exc).__name__}: {exc}"})
            return
        await send({"type": "lifespan.shutdown.complete"})

    async def seed(self) -> None:
        from blog.models import Author, Post, PostTag, Tag

        from fastmango.auth import User, sync_permissions
        from fastmango.db import create_all, drop_all

        await drop_all()  # PostgreSQL keeps the rows of the previous run
        await create_all()
        await sync_permissions()
        ada = await Author.objects.create(name="Ada", bio="Writes about engines.")
        grace = await Author.objects.create(name="Grace")
        await Author.objects.create(name="Linus", bio="No posts yet.")
        tags = [await Tag.objects.create(name=name) for name in ("python", "sql", "web")]
        for n, (author, published) in enumerate([(ada, True), (ada, False), (grace, True), (grace, True)]):
            post = await Post.objects.create(
                title=f"Post {n}", body="Lorem ipsum.", published=published, author_id=author.id
            )
            await PostTag.objects.create(post_id=post.id, tag_id=tags[n % len(tags)].id)
        await User.objects.create_superuser(USERNAME, password=PASSWORD)
        await self.login()

    async def login(self) -> str:
        """A fresh access token of the superuser, from ``POST /auth/token`` like any client.

        Sent from an address of its own: the generated failed logins soon rate-limit schemathesis's client.
        """
        import httpx

        transport = httpx.ASGITransport(app=self.app, client=("10.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.post("/auth/token", data={"username": USERNAME, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


def serve() -> None:
    """Serve the seeded blog with uvicorn on a free port of 127.0.0.1 (printed first, on a line of its own)."""
    import uvicorn

    sys.path.insert(0, str(BLOG))
    from blog.app import app

    sock = socket.socket()
    # Accepted connections inherit it; without it each keep-alive response waits 40 ms for a delayed ACK
    # (asyncio sets it only on the sockets it creates itself).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(SeededBlog(app), log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


@contextlib.contextmanager
def blog_server(database_url: str, log: Path) -> Iterator[str]:
    """The base URL of the seeded blog served on ``database_url``; its stderr goes to ``log``."""

    env = {**os.environ, **ENVIRONMENT, "DATABASE_URL": database_url}
    with served([sys.executable, __file__], env=env, cwd=log.parent, log=log) as base_url:
        yield base_url


def run_schemathesis(base_url: str, name: str, config: str, tmp_path: Path, *options: str) -> dict[str, Any]:
    """One ``st run``: its exit code, its report (stdout) and the status of each phase (from its events)."""
    config_file, events = tmp_path / f"{name}.toml", tmp_path / f"{name}.ndjson"
    config_file.write_text(config)
    command = [str(ST), "--config-file", str(config_file), "run", f"{base_url}/openapi.json", "--checks", "all"]
    command += ["--report", "ndjson", "--report-ndjson-path", str(events), *options]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    phases = {}
    for line in events.read_text().splitlines() if events.exists() else []:
        finished = json.loads(line).get("PhaseFinished")
        if finished:
            phases[finished["phase"]["name"]] = finished["status"]
    return {"name": name, "code": result.returncode, "output": result.stdout + result.stderr, "phases": phases}


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_blog_api_conforms_to_its_openapi_document(database: str, tmp_path: Path) -> None:
    if database == "sqlite":
        url = "sqlite:///:memory:"
    else:
        from fastmango.testing import postgres_url_or_skip

        url = postgres_url_or_skip()  # fails instead of skipping under CI=true
    log = tmp_path / "server.log"
    with blog_server(url, log) as base_url:
        runs = [
            run_schemathesis(base_url, "authenticated", AUTHENTICATED, tmp_path),
            run_schemathesis(base_url, "anonymous", ANONYMOUS, tmp_path, *SECURED),
        ]
    report = "\n\n".join(f"== {run['name']} (exit {run['code']})\n{run['output'][-40000:]}" for run in runs)
    report += f"\n\n== server log\n{log.read_text()[-20000:]}"
    assert all(run["code"] == 0 for run in runs), report
    # Every phase ran and passed (a phase with nothing to run would be "skip": e.g. stateful without links).
    for run in runs:
        assert {phase: run["phases"].get(phase) for phase in PHASES} == dict.fromkeys(PHASES, "success"), report


if __name__ == "__main__":
    serve()
