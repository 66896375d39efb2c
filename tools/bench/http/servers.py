"""The five apps as server processes: how each is started, pinned to a CPU, waited for, measured and stopped."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools.bench.http import common

ROOT = Path(__file__).resolve().parents[3]

#: The CPU of the app server; wrk, the harness and PostgreSQL's backends use the other one.
APP_CPU = 0
CLIENT_CPU = 1

#: uvicorn as the ASGI apps run in production: one process, uvloop and httptools, no access log.
UVICORN = ["-m", "uvicorn", "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]


@dataclass(frozen=True)
class App:
    """One benchmarked app.

    Attributes:
        key: Short name used on the command line (``fastmango``, ``sqlalchemy``, ``drf``, ``ninja``, ``floor``).
        label: Its name in the report.
        server: How it is served, for the report.
        argv: The command after the Python interpreter; ``{port}`` is replaced.
        env: Extra environment variables.
    """

    key: str
    label: str
    server: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)

    def command(self, python: str, port: int) -> list[str]:
        return [python, *(part.replace("{port}", str(port)) for part in self.argv)]


def _uvicorn(target: str, *extra: str) -> tuple[str, ...]:
    return (*UVICORN, *extra, "--host", "127.0.0.1", "--port", "{port}", target)


DJANGO_SETTINGS = {"DJANGO_SETTINGS_MODULE": "tools.bench.http.django_site.settings"}

APPS: tuple[App, ...] = (
    App(
        "fastmango",
        "fastmango (CRUDRouter)",
        "uvicorn",
        _uvicorn("tools.bench.http.app_fastmango:create_app", "--factory"),
    ),
    App(
        "sqlalchemy",
        "FastAPI + SQLAlchemy ORM",
        "uvicorn",
        _uvicorn("tools.bench.http.app_sqlalchemy:create_app", "--factory"),
    ),
    App(
        "drf",
        "Django REST Framework",
        f"gunicorn, 1 gthread worker x {common.POOL_SIZE} threads",
        (
            "-m",
            "gunicorn",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            str(common.POOL_SIZE),
            "--bind",
            "127.0.0.1:{port}",
            "--log-level",
            "warning",
            "tools.bench.http.django_site.wsgi:application",
        ),
        {**DJANGO_SETTINGS, "BENCH_DJANGO_API": "drf"},
    ),
    App(
        "ninja",
        "Django Ninja (async)",
        "uvicorn, Django's ASGI handler",
        _uvicorn("tools.bench.http.django_site.asgi:application", "--lifespan", "off"),
        {**DJANGO_SETTINGS, "BENCH_DJANGO_API": "ninja"},
    ),
    App(
        "floor",
        "floor: FastAPI + asyncpg + orjson",
        "uvicorn",
        _uvicorn("tools.bench.http.app_floor:create_app", "--factory"),
    ),
)
APP_KEYS = tuple(app.key for app in APPS)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pin_to(cpu: int) -> None:
    """Pin this process to ``cpu`` when the machine has it (no-op elsewhere)."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(0, {cpu})


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """``GET path`` on 127.0.0.1; the status and body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def request(
    port: int,
    method: str,
    path: str,
    body: object = None,
    headers: Mapping[str, str] | None = None,
    *,
    raw: bytes | None = None,
) -> tuple[int, bytes]:
    """One request on 127.0.0.1:``port``, with ``body`` as JSON (unless None) or ``raw`` bytes; the status and
    body of the answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        sent = dict(headers or {})
        if body is not None:
            sent["Content-Type"] = "application/json"
            raw = json.dumps(body).encode()
        conn.request(method, path, body=raw, headers=sent)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Server:
    """A running app, pinned to :data:`APP_CPU` from its first instruction.

    Attributes:
        started: ``time.perf_counter()`` just before the process was spawned.
        ready_after: Seconds from spawn to the first 200 on ``/health`` (set by :meth:`wait_ready`).
    """

    def __init__(self, app: App, python: str, database_url: str, *, pin: bool = True, log: Path | None = None) -> None:
        self.app = app
        self.port = free_port()
        env = {**os.environ, **app.env}
        env[common.DATABASE_URL_VARIABLE] = database_url
        env[common.POOL_SIZE_VARIABLE] = str(common.POOL_SIZE)
        env["PYTHONPATH"] = str(ROOT)
        env.pop("DEBUG", None)
        self.log_file = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            app.command(python, self.port),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log_file,
            stderr=self.log_file,
            preexec_fn=(lambda: pin_to(APP_CPU)) if pin else None,
            start_new_session=True,
        )
        self.ready_after: float | None = None

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Poll ``/health`` until it answers 200; the seconds since spawn.

        Raises:
            RuntimeError: the process exited, or did not answer in time.
        """
        deadline = self.started + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.app.key} exited with {self.process.returncode} before answering")
            try:
                status, _ = http_get(self.port, "/health", timeout=1.0)
            except OSError:
                status = 0
            now = time.perf_counter()
            if status == 200:
                self.ready_after = now - self.started
                return self.ready_after
            if now > deadline:
                raise RuntimeError(f"{self.app.key} did not answer 200 on /health within {timeout:.0f} s")
            time.sleep(0.005)

    def worker_pid(self) -> int:
        """The process that serves requests (gunicorn's worker rather than its master)."""
        children = _children(self.process.pid)
        return children[0] if self.app.key == "drf" and children else self.process.pid

    def rss_mib(self) -> float:
        """Resident memory of the serving process, MiB."""
        return rss_mib(self.worker_pid())

    def cpu_seconds(self) -> float:
        """User + system CPU time of the serving process so far."""
        return cpu_seconds(self.worker_pid())

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s, to the whole process group."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.log_file is not subprocess.DEVNULL:
            self.log_file.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads), seconds; NaN when unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """VmRSS of ``pid`` in MiB (0 when unknown)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def select_apps(keys: Sequence[str] | None) -> list[App]:
    """The apps named by ``keys`` (all when None), in the report's order."""
    if not keys:
        return list(APPS)
    unknown = set(keys) - set(APP_KEYS)
    if unknown:
        raise ValueError(f"unknown app(s) {', '.join(sorted(unknown))}; choose from {', '.join(APP_KEYS)}")
    return [app for app in APPS if app.key in keys]
