"""Apps served in a subprocess for the tests that need a real server (a browser, schemathesis, several processes)."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx


def wait_healthy(
    url: str, process: subprocess.Popen[str], log: Path, timeout: float = 60, path: str = "/health"
) -> None:
    """Return once ``GET url+path`` answers 200; fail with the server's log if it exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + path).status_code == 200:
                return
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


@contextlib.contextmanager
def served(command: Sequence[str], *, env: Mapping[str, str], cwd: Path, log: Path) -> Iterator[str]:
    """The base URL of the server ``command`` starts, once healthy; stopped after the block.

    ``command`` binds a free port itself and prints its number as the first line of its stdout (a socket bound
    before the server starts: no race for the port); its stderr goes to ``log``.
    """
    with log.open("w") as stderr:
        process = subprocess.Popen(
            list(command), env=dict(env), cwd=cwd, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.strip().isdigit(), log.read_text()
            url = f"http://127.0.0.1:{int(line)}"
            wait_healthy(url, process, log)
            yield url
        finally:
            process.terminate()
            process.wait(30)
