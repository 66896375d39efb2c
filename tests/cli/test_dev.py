from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

FASTMANGO = str(Path(sys.executable).parent / "fastmango")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    subprocess.run([FASTMANGO, "init", "demo"], check=True, capture_output=True, timeout=60)
    return tmp_path / "demo"


@contextmanager
def serving(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [FASTMANGO, "dev", "--port", str(port), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        yield base, process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def wait_for(url: str, process: subprocess.Popen[str], seconds: float = 30) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dev server exited: {process.stdout.read() if process.stdout else ''}")
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer within {seconds}s")


def test_dev_serves_health_and_docs_and_prints_the_urls(project: Path) -> None:
    with serving(project, "--no-reload") as (base, process):
        health = wait_for(f"{base}/health", process)
        docs = httpx.get(f"{base}/docs")
    output = process.stdout.read() if process.stdout else ""
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert docs.status_code == 200
    assert f"{base}/docs" in output


def test_dev_reloads_when_a_project_file_changes(project: Path) -> None:
    with serving(project) as (base, process):
        assert wait_for(f"{base}/hello", process).json() == {"message": "Hello from demo"}
        routes = project / "demo" / "routes.py"
        routes.write_text(routes.read_text().replace('@router.get("/hello"', '@router.get("/hi"'))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/hi", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError("the server did not pick up the change to routes.py")


def test_dev_finds_the_project_from_a_subfolder(project: Path) -> None:
    with serving(project / "demo", "--no-reload") as (base, process):
        assert wait_for(f"{base}/health", process).status_code == 200


def test_dev_serves_an_app_named_by_fastmango_app(project: Path, tmp_path: Path) -> None:
    (project / "pyproject.toml").unlink()
    env = {"FASTMANGO_APP": "demo.app:app"}
    with serving(project, "--no-reload", env=env) as (base, process):
        assert wait_for(f"{base}/health", process).status_code == 200


def run_dev(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FASTMANGO, "dev", "--port", str(free_port()), "--no-reload"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert fragment in result.stderr


def test_dev_without_a_project_says_how_to_make_one(tmp_path: Path) -> None:
    assert_one_line_error(run_dev(tmp_path), "fastmango init NAME")


def test_dev_with_an_unsupported_database_url_names_it(project: Path) -> None:
    result = run_dev(project, env={"DATABASE_URL": "mysql://root@localhost/x"})
    assert_one_line_error(result, "DATABASE_URL uses the unsupported scheme 'mysql'")


def test_dev_with_an_unreachable_database_names_it_without_the_password(project: Path) -> None:
    result = run_dev(project, env={"DATABASE_URL": "postgresql://app:s3cr3t@127.0.0.1:1/app"})
    assert_one_line_error(result, "cannot connect to the database at postgresql+asyncpg://app:***@127.0.0.1:1/app")
    assert "s3cr3t" not in result.stderr


def test_dev_in_prod_with_debug_on_refuses(project: Path) -> None:
    result = run_dev(project, env={"FASTMANGO_ENV": "prod", "DEBUG": "1", "SECRET_KEY": "k" * 48})
    assert_one_line_error(result, "DEBUG is on")


def poll(url: str, accept: Callable[[httpx.Response], bool], seconds: float = 30) -> httpx.Response:
    """GET ``url`` until ``accept`` says yes; each request is bounded, so a hanging server fails the test."""
    deadline = time.monotonic() + seconds
    response: httpx.Response | None = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=5)
        except httpx.ConnectError:
            time.sleep(0.1)
            continue
        if accept(response):
            return response
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer as expected within {seconds}s; last: {response}")


def test_dev_answers_503_while_app_py_is_broken_and_recovers_when_it_is_fixed(project: Path) -> None:
    app_py = project / "demo" / "app.py"
    source = app_py.read_text()
    with serving(project) as (base, process):
        assert wait_for(f"{base}/health", process).status_code == 200
        app_py.write_text(source + "\napp.include_router(undefined_router)\n")
        broken = poll(f"{base}/health", lambda response: response.status_code == 503)
        assert broken.headers["content-type"] == "application/problem+json"
        line = source.count("\n") + 2
        detail = f"demo/app.py:{line}: NameError: name 'undefined_router' is not defined"
        assert broken.json()["detail"] == f"demo.app:app cannot load: {detail}"
        app_py.write_text(source + "\ndef broken(:\n")
        syntax = poll(f"{base}/health", lambda response: "SyntaxError" in response.text)
        assert syntax.status_code == 503
        app_py.write_text(source)
        assert poll(f"{base}/health", lambda response: response.status_code == 200).json()["status"] == "ok"


def test_dev_with_reload_and_an_unreachable_database_stops_with_the_error(project: Path) -> None:
    result = subprocess.run(
        [FASTMANGO, "dev", "--port", str(free_port())],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DATABASE_URL": "postgresql://app:s3cr3t@127.0.0.1:1/app"},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    error = result.stderr.splitlines()[-1]
    assert error.startswith("Error: cannot connect to the database at postgresql+asyncpg://app:***@127.0.0.1:1/app")
    assert "s3cr3t" not in result.stderr


def wait_for_output(process: subprocess.Popen[str], fragment: str, seconds: float = 30) -> str:
    """Read the server's output until a line holds ``fragment``; that line."""
    assert process.stdout is not None
    found: list[str] = []
    seen: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if fragment in line:
                found.append(line)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(seconds)
    assert found, f"no line with {fragment!r} within {seconds}s in:\n{''.join(seen)}"
    return found[0]


def test_dev_says_when_migrations_are_unapplied_once_it_serves(project: Path) -> None:
    with serving(project) as (base, process):
        assert wait_for(f"{base}/health", process).status_code == 200
        line = wait_for_output(process, "unapplied migration(s)")
    # The framework's own branches (auth, AI usage) are not applied in a new project.
    assert re.search(r"You have \d+ unapplied migration\(s\)\. Run fastmango migrate to apply them\.$", line.rstrip())


def test_dev_names_model_changes_that_have_no_migration(project: Path) -> None:
    subprocess.run([FASTMANGO, "migrate"], cwd=project, check=True, capture_output=True, timeout=60)
    models = project / "demo" / "models.py"
    models.write_text(
        "from fastmango.db import Field, Model\n\n\n"
        "class Note(Model, table=True):\n"
        "    id: int | None = Field(default=None, primary_key=True)\n"
        "    text: str\n"
    )
    with serving(project, "--no-reload") as (base, process):
        assert wait_for(f"{base}/health", process).status_code == 200
        line = wait_for_output(process, "Your models have changes")
    assert line.rstrip().endswith(
        "Your models have changes that are not in a migration yet (create table note). Run fastmango makemigrations."
    )
