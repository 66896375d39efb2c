"""``fastmango.cli.dev_app``: what ``fastmango dev`` serves in its reloading child process."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from fastmango.cli import dev_app
from fastmango.cli.dev_app import DevApp


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root with an empty package named after the test (modules are cached per name)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    (tmp_path / "devproj").mkdir()
    (tmp_path / "devproj" / "__init__.py").write_text("")
    monkeypatch.setenv(dev_app.APP_ENV, "devproj.app:app")
    monkeypatch.setenv(dev_app.ROOT_ENV, str(tmp_path))
    return tmp_path


async def get(app: Any, path: str = "/health") -> httpx.Response:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get(path)


async def test_a_name_error_in_the_app_is_a_503_problem_naming_the_file_line_and_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "devproj" / "app.py").write_text("import os\n\napp = make_app()\n")
    response = await get(dev_app.load())
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "https://fastmango.dev/problems/service-unavailable"
    assert body["title"] == "App cannot load"
    assert body["detail"] == "devproj.app:app cannot load: devproj/app.py:3: NameError: name 'make_app' is not defined"
    assert (body["file"], body["line"]) == ("devproj/app.py", 3)
    assert body["traceback"][-1] == "NameError: name 'make_app' is not defined\n"
    assert "importlib" not in "".join(body["traceback"])
    assert "devproj/app.py:3: NameError" in capsys.readouterr().err


async def test_a_syntax_error_in_the_app_is_a_503_problem_naming_its_line(project: Path) -> None:
    (project / "devproj" / "app.py").write_text("app = 1\ndef broken(:\n")
    body = (await get(dev_app.load())).json()
    assert body["status"] == 503
    assert body["detail"].startswith("devproj.app:app cannot load: devproj/app.py:2: SyntaxError: ")


async def test_a_missing_app_attribute_is_a_503_problem(project: Path) -> None:
    (project / "devproj" / "app.py").write_text("application = None\n")
    body = (await get(dev_app.load())).json()
    assert "has no attribute 'app'" in body["detail"]


async def test_a_loadable_app_is_served_as_it_is(project: Path) -> None:
    (project / "devproj" / "app.py").write_text(
        "from starlette.applications import Starlette\n"
        "from starlette.responses import PlainTextResponse\n"
        "from starlette.routing import Route\n"
        "app = Starlette(routes=[Route('/health', lambda request: PlainTextResponse('ok'))])\n"
    )
    application = dev_app.load()
    assert isinstance(application, DevApp)
    response = await get(application)
    assert (response.status_code, response.text) == (200, "ok")


async def test_a_failing_start_up_is_a_503_problem_instead_of_an_exit(tmp_path: Path) -> None:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("the cache is not reachable")
        yield

    inner = Starlette(routes=[Route("/health", lambda request: PlainTextResponse("ok"))], lifespan=lifespan)
    response = await get(DevApp(inner, "demo.app:app", tmp_path))
    assert response.status_code == 503
    body = response.json()
    assert body["title"] == "App cannot start"
    assert "RuntimeError: the cache is not reachable" in body["detail"]


async def test_the_started_callback_runs_once_the_app_has_started(tmp_path: Path) -> None:
    started: list[bool] = []
    inner = Starlette(routes=[Route("/health", lambda request: PlainTextResponse("ok"))])
    response = await get(DevApp(inner, "demo.app:app", tmp_path, on_started=lambda: started.append(True)))
    assert response.status_code == 200
    assert started == [True]


async def test_without_serve_failures_a_failing_start_up_reaches_the_server(tmp_path: Path) -> None:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("the cache is not reachable")
        yield

    inner = Starlette(lifespan=lifespan)
    with pytest.raises(RuntimeError, match="the cache is not reachable"):
        await get(DevApp(inner, "demo.app:app", tmp_path, serve_failures=False))


def test_the_checks_that_do_no_io_are_logged_when_the_app_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from fastmango import FastMango, Settings

    app = FastMango(settings=Settings(database_url="sqlite:///:memory:"), configure_logging=False)

    @app.get("/posts/{pk}")
    async def post(pk: str) -> None: ...

    @app.get("/posts/latest")
    async def latest() -> None: ...

    with caplog.at_level(logging.INFO, logger="fastmango.dev"):
        dev_app.print_findings(app, tmp_path, database=False)
    assert [(r.levelname, r.getMessage().split(":")[0]) for r in caplog.records] == [("WARNING", "fastmango.W201")]
    assert "Fix: declare /posts/latest before /posts/{pk}" in caplog.records[0].getMessage()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="fastmango.dev"):
        dev_app.print_findings(app, tmp_path, database=True)  # in memory: nothing to read
    assert caplog.records == []
