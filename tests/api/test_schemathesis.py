"""Property-based API test of the example blog: schemathesis generates requests from the app's own OpenAPI
document and checks that no response is a server error and that every response conforms to that document
(status code documented, content type, headers and body matching the documented schema).

The blog's models cannot be imported into this test session: its tables ``author`` and ``tag`` share
SQLModel's one ``MetaData`` with the models of ``tests/db/models.py``, which the suite imports at collection.
So the root suite runs this file again in a subprocess of its own (as ``tests/examples/test_blog.py`` runs the
blog's suite), where ``BLOG_API_FUZZ=1`` defines the schemathesis tests, one per API operation. The app runs
in-process there, without a server. To run it alone, with one line per operation::

    BLOG_API_FUZZ=1 DATABASE_URL=sqlite:///:memory: FASTMANGO_ENV=test \\
        .venv/bin/pytest tests/api/test_schemathesis.py --noconftest -p no:cacheprovider

The run is deterministic (fixed seed, derandomized Hypothesis, no example database) and bounded: about 480
cases in all. No Hypothesis health check is suppressed: none fires.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BLOG = ROOT / "examples" / "blog"
FLAG = "BLOG_API_FUZZ"
ENVIRONMENT = {
    "DATABASE_URL": "sqlite:///:memory:",
    "FASTMANGO_ENV": "test",
    "FASTMANGO_LOG_LEVEL": "WARNING",
    "FASTMANGO_PASSWORD_ARGON2_TIME_COST": "1",
    "FASTMANGO_PASSWORD_ARGON2_MEMORY_KIB": "1024",
}
USERNAME, PASSWORD = "root", "schemathesis-root-password"
# A route of the test harness, outside the blog's OpenAPI document: logs the superuser in, returns the token.
TOKEN_PATH = "/__harness__/token"
SEEDED_ROWS = 3  # authors, tags and posts with ids 1 to 3 (at least) exist after seeding

CHECKS: dict[str, Any] = {
    "enabled": False,
    "not_a_server_error": {"enabled": True},
    "status_code_conformance": {"enabled": True},
    "content_type_conformance": {"enabled": True},
    "response_headers_conformance": {"enabled": True},
    "response_schema_conformance": {"enabled": True},
    # An operation that declares a security requirement must answer 401 when the credentials are left out.
    "ignored_auth": {"enabled": True},
}
# Test data only: show values such as `author_id` (the default sensitive markers hide anything with "auth").
OUTPUT = {"sanitization": {"keys-to-sanitize": ["authorization", "cookie"], "sensitive-markers": ["password"]}}
# As the superuser: every operation, with the deterministic valid boundary cases of the coverage phase (its
# invalid variants and unexpected methods would add a thousand cases) and 10 generated cases, valid or not.
AUTHENTICATED: dict[str, Any] = {
    "seed": 20240601,
    "generation": {"deterministic": True, "max-examples": 10, "database": "none"},
    "phases": {"coverage": {"generation": {"mode": "positive"}, "unexpected-methods": []}},
    "checks": CHECKS,
    "output": OUTPUT,
}
# Without credentials: the operations that need a user, 5 generated cases each; they answer 401 first.
ANONYMOUS: dict[str, Any] = {
    "seed": 20240601,
    "generation": {"deterministic": True, "max-examples": 5, "database": "none"},
    "phases": {"coverage": {"enabled": False}},
    "checks": CHECKS,
    "output": OUTPUT,
}


class SeededBlog:
    """The blog app; its lifespan also creates the tables and seeds authors, tags, posts and a superuser.

    schemathesis runs the lifespan of the app under test in an event loop thread of its own; the seeding and
    the logins run in that loop too, where the app's database connection lives.
    """

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
        from fastmango.db import create_all

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


def requires_authentication(ctx: Any) -> bool:
    return bool(ctx.operation.definition.raw.get("security"))


def aim_at_seeded_rows(case: Any) -> None:
    """Point the ids of half of the valid cases at seeded rows.

    Generated ids nearly always answer 404, and a generated ``author_id`` a 409, which would leave the
    reads, updates and deletes of existing rows untested. Only even ids are moved, so that the other half
    keeps the generated values (boundaries included); the mapping depends on the case alone, so that a
    failing case replays identically.
    """
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    pk = (case.path_parameters or {}).get("pk")
    if isinstance(pk, str) and pk.lstrip("-").isdigit():
        pk = int(pk)
    if isinstance(pk, int) and pk % 2 == 0:
        case.path_parameters["pk"] = 1 + pk % SEEDED_ROWS
    author_id = case.body.get("author_id") if isinstance(case.body, dict) else None
    if isinstance(author_id, int) and author_id % 2 == 0:
        case.body["author_id"] = 1 + author_id % SEEDED_ROWS


if os.environ.get(FLAG) != "1":

    def test_blog_api_conforms_to_its_openapi_document(tmp_path: Path) -> None:
        env = {**os.environ, **ENVIRONMENT, FLAG: "1"}
        command = [sys.executable, "-m", "pytest", str(Path(__file__)), "-q", "--noconftest", "-p", "no:cacheprovider"]
        # Failures carry the request (as curl), the response and the failed check; server errors their traceback.
        command.append("--show-capture=no")
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout[-60000:] + result.stderr[-5000:]
        assert " passed" in result.stdout, result.stdout

else:
    import schemathesis
    from schemathesis.config import SchemathesisConfig
    from schemathesis.python import asgi

    sys.path.insert(0, str(BLOG))
    from blog.app import app as blog_app

    blog = SeededBlog(blog_app)
    # Both schemas drive the same app object, so schemathesis starts its lifespan (and the seeding) once.
    schema = schemathesis.openapi.from_asgi("/openapi.json", blog, config=SchemathesisConfig.from_dict(AUTHENTICATED))
    anonymous_schema = schemathesis.openapi.from_asgi(
        "/openapi.json", blog, config=SchemathesisConfig.from_dict(ANONYMOUS)
    ).include(func=requires_authentication)

    def authorization() -> dict[str, str]:
        """A Bearer header with a fresh token for each case: ``POST /auth/logout`` revokes the token it is
        called with, and a shared one would turn every later case into a 401."""
        with asgi.get_client(blog) as client:
            response = client.post(TOKEN_PATH)
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    @schema.parametrize()
    def test_authenticated(case: Any) -> None:
        """Every operation, as the superuser: write endpoints are exercised, not only their 401."""
        aim_at_seeded_rows(case)
        case.call_and_validate(headers=authorization())

    @anonymous_schema.parametrize()
    def test_anonymous(case: Any) -> None:
        """Operations that need a user, without credentials: a documented 401, never a 500."""
        case.call_and_validate()
