"""``fastmango serve`` and scale-out: a fresh ``fastmango init`` project served by the production command.

Two servers share one PostgreSQL database and one Redis server of this module's own (tests.faults.servers, so
that it can be stopped): ``a`` with ``--workers 1`` and ``b`` with ``--workers 2`` (the production command,
whose two processes both answer). Whatever process of ``b`` answers, it is not ``a``'s: so a token revoked
through ``a`` and refused by ``b``, failed logins counted on both, and an AI tool result cached by ``a`` and served
by ``b`` are state shared through Redis, not one process remembering it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fastmango.cli.serve import available_cores, default_workers, port_from_environment
from fastmango.core.errors import ImproperlyConfigured
from tests.conftest import _admin
from tests.faults.servers import REDIS_SERVER, RedisServer, free_port, require_binaries

BIN = Path(sys.executable).parent
FASTMANGO = str(BIN / "fastmango")
PASSWORD = "serve-root-password"

ROUTES = '''"""Hand-written endpoints of mysite, and the ones the scale-out test asks."""

import os

from fastapi import APIRouter, Depends

from fastmango.ai import use_agent

router = APIRouter(tags=["mysite"])


@router.get("/pid")
async def pid() -> dict[str, int]:
    return {"pid": os.getpid()}


@router.post("/stamp")
async def stamp(stamper=Depends(use_agent("stamper"))) -> dict[str, object]:
    return {"answer": (await stamper.run("stamp")).output, "pid": os.getpid()}
'''

TOOLS = '''"""AI tools of mysite: one whose result is cached for everyone (the response cache, in Redis)."""

import os
import uuid

import fastmango
from fastmango.ai import ToolContext, agent


@fastmango.tool(cache_ttl=300)
async def make_stamp(ctx: ToolContext) -> str:
    """A value made once; a cached call answers the same one."""
    return f"{os.getpid()}-{uuid.uuid4().hex}"


stamper = agent("stamper", instructions="Call make_stamp.", tools=["make_stamp"], shared=True)
'''


def project_env(**extra: str) -> dict[str, str]:
    """The user's shell: the venv's commands on PATH, none of the test session's fastmango settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("FASTMANGO_")
        and name not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "PORT", "WEB_CONCURRENCY"}
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return {**env, **extra}


def run(root: Path, *args: str, env: dict[str, str]) -> str:
    result = subprocess.run([FASTMANGO, *args], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


class Served:
    """``fastmango serve`` in a subprocess (its own process group), on a free port."""

    def __init__(self, root: Path, env: dict[str, str], workers: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = root / f"serve-{self.port}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [FASTMANGO, "serve", "--workers", str(workers), "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started = time.monotonic()

    def wait_ready(self, timeout: float = 40) -> float:
        """Seconds from the command to the first 200 of /ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.base}/ready", timeout=2).status_code == 200:
                    return time.monotonic() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        pytest.fail(f"fastmango serve did not answer /ready within {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> float:
        """SIGTERM, as a platform stops it; the seconds it took to exit (SIGKILL after 20 s)."""
        started = time.monotonic()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return time.monotonic() - started


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    require_binaries(REDIS_SERVER)
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shared_database(postgres_url: str) -> Iterator[str]:
    name = f"fm_serve_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _admin(postgres_url, f'CREATE DATABASE "{name}"')
    yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    _admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, shared_database: str) -> Path:
    folder = tmp_path_factory.mktemp("serve")
    env = project_env()
    subprocess.run([FASTMANGO, "init", "mysite"], cwd=folder, env=env, check=True, capture_output=True, timeout=60)
    root = folder / "mysite"
    (root / "mysite" / "routes.py").write_text(ROUTES)
    (root / "mysite" / "tools.py").write_text(TOOLS)
    with (root / ".env").open("a") as dotenv:
        dotenv.write(
            f"\nDATABASE_URL={shared_database}\nREDIS_URL={redis_server.url_of(1)}\nFASTMANGO_AUTH_LOGIN_MAX_FAILURES=3\n"
        )
    run(root, "migrate", env=env)
    run(root, "createsuperuser", "--username", "root", "--email", "root@example.com", "--no-input",
        env=project_env(FASTMANGO_SUPERUSER_PASSWORD=PASSWORD))  # fmt: skip
    return root


@pytest.fixture(scope="module")
def servers(project: Path) -> Iterator[tuple[Served, Served]]:
    env = project_env()
    a, b = Served(project, env, workers=1), Served(project, env, workers=2)
    try:
        a.wait_ready()
        b.wait_ready()
        yield a, b
    finally:
        a.stop()
        b.stop()


def pids(base: str, want: int, tries: int = 200) -> set[int]:
    """The processes answering at ``base``, asked until ``want`` differ (or ``tries`` requests)."""
    seen: set[int] = set()
    with httpx.Client(base_url=base) as client:
        for _ in range(tries):
            # A new connection each time: uvicorn's workers share the listening socket, not connections.
            seen.add(client.get("/pid", headers={"Connection": "close"}).json()["pid"])
            if len(seen) >= want:
                break
    return seen


def test_the_production_command_serves_readiness_from_two_workers(servers: tuple[Served, Served]) -> None:
    a, b = servers
    ready = httpx.get(f"{b.base}/ready", timeout=5)
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "redis": "ok",
        "worker": "warn",  # no fastmango worker runs: jobs wait, the web process still serves
    }
    assert httpx.get(f"{b.base}/health").json()["status"] == "ok"
    b_pids = pids(b.base, want=2)
    assert len(b_pids) == 2, "both worker processes of --workers 2 answer"
    assert pids(a.base, want=1).isdisjoint(b_pids)
    assert "(profile prod)" in b.log.read_text()
    assert "uvloop, httptools" in b.log.read_text()


def test_a_token_revoked_through_one_process_is_refused_by_another(servers: tuple[Served, Served]) -> None:
    a, b = servers
    login = httpx.post(f"{a.base}/auth/token", data={"username": "root", "password": PASSWORD})
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert httpx.get(f"{b.base}/auth/me", headers=auth).status_code == 200
    assert httpx.post(f"{a.base}/auth/logout", headers=auth).status_code == 204
    refused = httpx.get(f"{b.base}/auth/me", headers=auth)
    assert refused.status_code == 401, refused.text


def test_the_login_rate_limit_counts_across_processes(servers: tuple[Served, Served]) -> None:
    a, b = servers
    wrong = {"username": "root", "password": "not-the-password"}
    # FASTMANGO_AUTH_LOGIN_MAX_FAILURES=3: two failures through one process, one through the other...
    assert [httpx.post(f"{base}/auth/token", data=wrong).status_code for base in (a.base, a.base, b.base)] == [
        401,
        401,
        401,
    ]
    # ...and the next attempt is refused by both, even with the right password.
    for base in (b.base, a.base):
        limited = httpx.post(f"{base}/auth/token", data={"username": "root", "password": PASSWORD})
        assert limited.status_code == 429, limited.text
        assert "Retry-After" in limited.headers


def test_an_ai_tool_result_cached_by_one_process_is_served_by_another(servers: tuple[Served, Served]) -> None:
    a, b = servers
    first = httpx.post(f"{a.base}/stamp", timeout=30).json()
    again = httpx.post(f"{b.base}/stamp", timeout=30).json()
    assert first["pid"] != again["pid"]
    assert str(first["pid"]) in first["answer"]  # the stamp was made by a's process...
    assert again["answer"] == first["answer"]  # ...and b answers it from the shared cache


def test_ready_answers_503_naming_redis_while_it_is_stopped(
    servers: tuple[Served, Served], redis_server: RedisServer
) -> None:
    a, _ = servers
    redis_server.stop()
    try:
        started = time.monotonic()
        response = httpx.get(f"{a.base}/ready", timeout=5)
        elapsed = time.monotonic() - started
    finally:
        redis_server.start()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Not ready"
    assert "redis" in problem["detail"]
    assert problem["checks"]["redis"]["status"] == "down"
    assert problem["checks"]["database"]["status"] == "ok"
    assert "127.0.0.1" not in response.text  # no host names on a public endpoint
    assert elapsed < 2, "each check is bounded by ready_timeout_seconds (0.5 s)"
    deadline = time.monotonic() + 10
    while httpx.get(f"{a.base}/ready").status_code != 200:
        assert time.monotonic() < deadline, "ready again once Redis is back"
        time.sleep(0.1)


def test_a_server_stops_within_seconds_on_sigterm(project: Path) -> None:
    served = Served(project, project_env(), workers=2)
    try:
        served.wait_ready()
    finally:
        elapsed = served.stop()
    assert served.process.returncode == 0, served.log.read_text()
    assert elapsed < 10, f"SIGTERM took {elapsed:.1f} s"


def test_an_app_that_refuses_to_start_is_one_line_and_exit_1(project: Path) -> None:
    env = project_env(FASTMANGO_ENV="prod", SECRET_KEY="short")
    result = subprocess.run(
        [FASTMANGO, "serve", "--workers", "2", "--port", str(free_port())],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: SECRET_KEY is not set to a real secret")


def test_a_bad_web_concurrency_is_one_line_and_exit_1(project: Path) -> None:
    result = subprocess.run(
        [FASTMANGO, "serve"], cwd=project, env=project_env(WEB_CONCURRENCY="many"), capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr == "Error: WEB_CONCURRENCY='many' is not a number of workers (1 or more)\n"


def test_workers_come_from_web_concurrency_else_the_cores() -> None:
    assert default_workers({"WEB_CONCURRENCY": "3"}) == 3
    assert 1 <= default_workers({}) <= 8
    with pytest.raises(ImproperlyConfigured):
        default_workers({"WEB_CONCURRENCY": "0"})


def test_a_cgroup_cpu_quota_lowers_the_cores(tmp_path: Path) -> None:
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")
    assert available_cores(quota) == min(2, len(os.sched_getaffinity(0)))
    quota.write_text("max 100000\n")
    assert available_cores(quota) == len(os.sched_getaffinity(0))


def test_the_port_comes_from_port_else_8000() -> None:
    assert port_from_environment({"PORT": "8080"}) == 8080
    assert port_from_environment({}) == 8000
    with pytest.raises(ImproperlyConfigured, match="PORT='http' is not a port number"):
        port_from_environment({"PORT": "http"})
