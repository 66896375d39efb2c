"""The README tutorial, followed as a new user follows it: a fresh ``fastmango init`` project, step by step,
each step the command or the code the README gives, on SQLite and on PostgreSQL.

migrate with no makemigrations, createsuperuser, log in, a model with a relation and a datetime,
makemigrations/migrate, a CRUD router, the AI route answering through the agent, a task, the project's own
tests (which must not touch the development database), and a wheel of the project.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import _admin

BIN = Path(sys.executable).parent
FASTMANGO = str(BIN / "fastmango")
PASSWORD = "tutorial-root-password"

MODELS = '''"""Tables of mysite."""

from datetime import UTC, datetime

from fastmango.db import Field, Model, Relationship


class Author(Model, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    posts: list["Post"] = Relationship(back_populates="author")


class Post(Model, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str
    published: bool = False
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    author_id: int = Field(foreign_key="author.id")
    author: Author = Relationship(back_populates="posts")
'''

APP = '''"""The ASGI application of mysite."""

from fastapi import Depends

from fastmango import FastMango
from fastmango.ai import use_agent
from fastmango.api import CRUDRouter
from mysite.models import Author, Post
from mysite.settings import Settings
from mysite.tasks import publish

settings = Settings()
app = FastMango(settings=settings)

app.include_router(CRUDRouter(
    Post, prefix="/posts",
    filter_fields=["title", "published", "author__name"], search_fields=["title"],
    ordering_fields=["created_at", "title"], select_related=["author"],
    permissions=True,
))
app.include_router(CRUDRouter(Author, prefix="/authors", permissions=True))


@app.post("/ask")
async def ask(q: str, assistant=Depends(use_agent("assistant"))):
    return {"answer": (await assistant.run(q)).output}


@app.post("/posts/{pk}/publish")
async def publish_post(pk: int):
    job = await publish.enqueue(post_id=pk)
    return {"published": await job.result(timeout=10)}
'''

TOOLS = '''"""AI tools of mysite."""

import fastmango
from fastmango.ai import ToolContext, agent, expose_model
from mysite.models import Post


@fastmango.tool
async def search_posts(ctx: ToolContext, query: str, limit: int = 5) -> list[dict]:
    """Search published posts by title."""
    posts = await Post.objects.filter(title__icontains=query)[:limit]
    return [{"id": post.id, "title": post.title} for post in posts]


expose_model(Post, actions=("list", "get"))
assistant = agent("assistant", instructions="Answer questions about posts.", tools=["search_posts", "post_*"])
'''

TASKS = '''"""Background tasks of mysite."""

import fastmango
from mysite.models import Post


@fastmango.task(retries=3, timeout=60)
async def publish(ctx: fastmango.TaskContext, post_id: int) -> bool:
    post = await Post.objects.get(id=post_id)
    post.published = True
    await post.save()
    return post.published
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Tutorial:
    """A project made by ``fastmango init mysite`` and the commands of the README, run in it."""

    def __init__(self, folder: Path, database_url: str | None) -> None:
        self.folder = folder
        self.root = folder / "mysite"
        self.database_url = database_url
        # The user's shell: the venv's commands on PATH, none of the test session's fastmango settings.
        self.env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("FASTMANGO_") and name not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}
        }
        self.env["PATH"] = f"{BIN}{os.pathsep}{self.env.get('PATH', '')}"
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"

    def run(self, *args: str, cwd: Path | None = None, **env: str) -> str:
        result = subprocess.run(
            list(args),
            cwd=cwd or self.root,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def write(self, relative: str, source: str) -> None:
        (self.root / relative).write_text(source)

    def dev_rows(self, table: str) -> int:
        """Rows in a table of the development database."""
        if self.database_url is None:
            with sqlite3.connect(self.root / "db.sqlite3") as connection:
                return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        result = subprocess.run(
            ["psql", self.database_url, "-Atc", f"SELECT count(*) FROM {table}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        return int(result.stdout.strip())

    def serve(self) -> Iterator[str]:
        port = free_port()
        process = subprocess.Popen(
            [FASTMANGO, "dev", "--port", str(port)],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                time.sleep(0.2)
            else:
                pytest.fail("fastmango dev did not answer /health within 60 s")
            yield base
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


@pytest.fixture(params=["sqlite", "postgres"])
def tutorial(request: pytest.FixtureRequest, tmp_path: Path) -> Tutorial:
    if request.param == "sqlite":
        return Tutorial(tmp_path, None)
    base = request.getfixturevalue("postgres_url")
    name = f"fm_tutorial_{uuid.uuid4().hex[:8]}"
    _admin(base, f'CREATE DATABASE "{name}"')
    request.addfinalizer(lambda: _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    request.addfinalizer(lambda: _admin(base, f'DROP DATABASE IF EXISTS "{name}_test" WITH (FORCE)'))
    return Tutorial(tmp_path, base.rsplit("/", 1)[0] + f"/{name}")


def test_the_readme_tutorial_works_on_a_fresh_project(tutorial: Tutorial) -> None:
    # 1. Start a project.
    tutorial.run(FASTMANGO, "init", "mysite", cwd=tutorial.folder)
    if tutorial.database_url is not None:
        with (tutorial.root / ".env").open("a") as env:
            env.write(f"\nDATABASE_URL={tutorial.database_url}\n")

    # 5/6. Framework tables with no makemigrations, then a superuser.
    assert "Applied fastmango_auth_0001" in tutorial.run(FASTMANGO, "migrate")
    tutorial.run(
        FASTMANGO, "createsuperuser", "--username", "root", "--email", "root@example.com", "--no-input",
        FASTMANGO_SUPERUSER_PASSWORD=PASSWORD,
    )  # fmt: skip

    # 5. Models with a relation and a datetime; their migration.
    tutorial.write("mysite/models.py", MODELS)
    made = tutorial.run(FASTMANGO, "makemigrations", "-m", "posts")
    assert "create table post" in made and "auth_user" not in made
    tutorial.run(FASTMANGO, "migrate")
    tutorial.run(FASTMANGO, "shell", "-c", "await Author.objects.create(name='Ada Lovelace')")

    # 7-9. A CRUD router and the AI route in app.py, tools and an agent, a task.
    tutorial.write("mysite/app.py", APP)
    tutorial.write("mysite/tools.py", TOOLS)
    tutorial.write("mysite/tasks.py", TASKS)

    for base in tutorial.serve():
        login = httpx.post(f"{base}/auth/token", data={"username": "root", "password": PASSWORD})
        assert login.status_code == 200, login.text
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert httpx.get(f"{base}/auth/me", headers=auth).json()["username"] == "root"
        assert httpx.get(f"{base}/hello").json() == {"message": "Hello from mysite"}  # routes.py, discovered

        created = httpx.post(f"{base}/posts", json={"title": "Engines", "author_id": 1}, headers=auth)
        assert created.status_code == 201, created.text
        assert created.json()["created_at"].startswith(time.strftime("%Y-", time.gmtime()))
        listed = httpx.get(f"{base}/posts?author__name__icontains=ada&ordering=-created_at&limit=20", headers=auth)
        assert listed.status_code == 200, listed.text
        assert listed.json()["total"] == 1
        assert listed.json()["items"][0]["author"]["name"] == "Ada Lovelace"
        assert httpx.get(f"{base}/posts").status_code == 401  # permissions=True: anonymous readers are refused

        answer = httpx.post(f"{base}/ask", params={"q": "Which posts are there?"}, headers=auth, timeout=30)
        assert answer.status_code == 200, answer.text
        assert "answer" in answer.json()

        published = httpx.post(f"{base}/posts/{created.json()['id']}/publish", headers=auth, timeout=30)
        assert published.status_code == 200, published.text
        assert published.json() == {"published": True}
        assert httpx.get(f"{base}/posts/{created.json()['id']}", headers=auth).json()["published"] is True

    # 11. The project's own tests pass, on a database of their own.
    users, posts = tutorial.dev_rows("auth_user"), tutorial.dev_rows("post")
    output = tutorial.run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert "3 passed" in output
    assert (tutorial.dev_rows("auth_user"), tutorial.dev_rows("post")) == (users, posts) == (1, 1)

    # The project is a package that builds.
    tutorial.run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", "dist", ".")
    assert [wheel.name for wheel in (tutorial.root / "dist").glob("*.whl")] == ["mysite-0.1.0-py3-none-any.whl"]
