"""PostgreSQL and Redis servers of a test module's own, on free ports, from the machine's binaries.

Fault tests stop, hang and restart these servers; the machine's own servers are never touched. Each fixture
starts its server once per module and stops it at the end. Without the binaries the tests skip locally and
fail under ``CI=true``.

    async def test_something(postgres_server: PostgresServer) -> None:
        postgres_server.stop()            # pg_ctl stop: clients see connection refused
        postgres_server.start()
        with postgres_server.paused():    # SIGSTOP: clients hang until SIGCONT
            ...

``RedisServer`` has the same ``start``/``stop``/``pause``/``resume``/``paused``/``restart`` and ``flush``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastmango.testing import in_ci

POSTGRES_BIN = Path(os.environ.get("FASTMANGO_TEST_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = Path(os.environ.get("FASTMANGO_TEST_REDIS_SERVER", "/usr/bin/redis-server"))
_STARTUP_SECONDS = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binaries(*paths: Path) -> None:
    """Skip (fail under ``CI=true``) when a server binary is missing."""
    missing = [str(path) for path in paths if not os.access(path, os.X_OK)]
    if missing:
        message = f"fault tests need {', '.join(missing)}"
        if in_ci():
            pytest.fail(f"{message} (CI=true: tests that need them fail instead of skipping)", pytrace=False)
        pytest.skip(message)


def _children(pid: int) -> list[int]:
    """The direct children of ``pid``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: the parent pid follows the last ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _wait_for_port(port: int, timeout: float = _STARTUP_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s") from None
            time.sleep(0.05)


class _Server:
    """What both servers share: a port, a process to pause and resume."""

    port: int

    def pids(self) -> list[int]:
        """The server's processes: the main one first."""
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def restart(self) -> None:
        """Stop, then start again on the same port."""
        self.stop()
        self.start()

    def pause(self) -> None:
        """Hang the server: SIGSTOP its processes (the main one first, so it starts no new ones). Connections
        are still accepted by the kernel, then never answered."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT what :meth:`pause` stopped."""
        for pid in reversed(self.pids()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Hung for the block, resumed after it (even when the block fails)."""
        self.pause()
        try:
            yield
        finally:
            self.resume()


class PostgresServer(_Server):
    """A PostgreSQL cluster in a temporary folder, trusting local connections as user ``postgres``.

    initdb refuses to run as root: as root, the binaries run as the ``postgres`` system user, which owns the
    folder.
    """

    def __init__(self, root: Path, port: int | None = None, bin_dir: Path = POSTGRES_BIN) -> None:
        self.root = root
        self.data = root / "data"
        self.socket_dir = root / "socket"
        self.log = root / "postgres.log"
        self.port = port or free_port()
        self.bin_dir = bin_dir

    @property
    def url(self) -> str:
        """The URL of the ``postgres`` database."""
        return self.url_of("postgres")

    def url_of(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run(
            [*prefix, *command], check=check, capture_output=True, text=True, timeout=_STARTUP_SECONDS * 2
        )

    def init(self) -> None:
        """Create the cluster (once)."""
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.socket_dir, "postgres")
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.socket_dir} -c fsync=off "
            "-c full_page_writes=off -c max_connections=50"
        )
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        _wait_for_port(self.port)

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m fast`` (sessions are ended) or ``immediate`` (a crash). Resumes a paused server first."""
        self.resume()
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def pids(self) -> list[int]:
        pid = self.postmaster_pid()
        return [] if pid is None else [pid, *_children(pid)]

    def execute(self, statement: str, database: str = "postgres") -> None:
        """Run one statement with psql (as the server's user), outside any event loop."""
        self._run(
            str(self.bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
            "-v", "ON_ERROR_STOP=1", "-c", statement,
        )  # fmt: skip

    def create_database(self, name: str) -> str:
        """Create database ``name``; its URL."""
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url_of(name)


class RedisServer(_Server):
    """A Redis server with no persistence (``--save '' --appendonly no``): a restart loses every key."""

    def __init__(self, root: Path, port: int | None = None, binary: Path = REDIS_SERVER) -> None:
        self.root = root
        self.port = port or free_port()
        self.binary = binary
        self.process: subprocess.Popen[bytes] | None = None

    def url_of(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    @property
    def url(self) -> str:
        return self.url_of(0)

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        command = [
            str(self.binary),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        log = (self.root / "redis.log").open("ab")
        self.process = subprocess.Popen([*command, "--dir", str(self.root)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + _STARTUP_SECONDS
        while True:
            try:
                if self.command("PING") == b"+PONG":
                    return
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {self.port}; see {self.root / 'redis.log'}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Terminate the server (SIGTERM, SIGKILL after 10 s); its data is gone."""
        if self.process is None:
            return
        self.resume()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def pids(self) -> list[int]:
        return [] if self.process is None or self.process.poll() is not None else [self.process.pid]

    def command(self, *args: str, timeout: float = 2.0) -> bytes:
        """Send one command; the first line of the reply (``+OK``, ``:3``...)."""
        payload = f"*{len(args)}\r\n".encode() + b"".join(
            f"${len(arg.encode())}\r\n".encode() + arg.encode() + b"\r\n" for arg in args
        )
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(payload)
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
        return reply.split(b"\r\n", 1)[0]

    def flush(self) -> None:
        """Delete every key of every database (a restart that lost its data, without the restart)."""
        if self.command("FLUSHALL") != b"+OK":
            raise RuntimeError("FLUSHALL failed")


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this module's own, started once and removed at the end."""
    require_binaries(POSTGRES_BIN / "initdb", POSTGRES_BIN / "pg_ctl", POSTGRES_BIN / "postgres")
    root = Path(tempfile.mkdtemp(prefix="fm-faults-pg-"))
    server = PostgresServer(root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A Redis server of this module's own, started once and stopped at the end."""
    require_binaries(REDIS_SERVER)
    root = Path(tempfile.mkdtemp(prefix="fm-faults-redis-"))
    server = RedisServer(root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
