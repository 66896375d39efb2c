"""Start-up benchmark: seconds from launching a command to the first 200 from ``/health``, on a fresh project.

    .venv/bin/python -m tools.bench.startup                          # writes tools/bench/STARTUP_RESULTS.md
    .venv/bin/python -m tools.bench.startup --rounds 1 --output -    # smoke run
    git worktree add /tmp/fm-before <commit>
    .venv/bin/python -m tools.bench.startup --baseline /tmp/fm-before   # the same rows for that checkout too

The project is made by ``fastmango init`` in a temporary folder. Each round starts every command once, in
turn (interleaved, so that a busy spell of the machine hits every row alike): ``fastmango dev`` (reload
on: a reloader process that checks the settings and the database, and a child process that imports and
serves the app), ``fastmango dev --no-reload`` (one process) and the production command. The clock starts
just before the process is launched and stops at the first 200 from ``/health``, polled every 10 ms. Each
row reports the best and the median of the rounds. Progress goes to stderr.

With ``--baseline DIR`` (another fastmango checkout, for example a ``git worktree`` at an older commit) every
command also runs with ``DIR`` first on ``PYTHONPATH``, in the same rounds.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

DEFAULT_OUTPUT = Path(__file__).with_name("STARTUP_RESULTS.md")
BIN = Path(sys.executable).parent
PACKAGE = "demo"
FINDINGS = "## Findings"


@dataclass(frozen=True)
class Command:
    """One way to start the project's server."""

    label: str
    argv: tuple[str, ...]  # "{port}" is replaced by the port
    env: tuple[tuple[str, str], ...] = ()


COMMANDS = (
    Command("`fastmango dev` (reload)", (str(BIN / "fastmango"), "dev", "--port", "{port}")),
    Command("`fastmango dev --no-reload`", (str(BIN / "fastmango"), "dev", "--no-reload", "--port", "{port}")),
    # `fastmango serve` does not exist yet: production is uvicorn on the app, with the prod profile.
    Command(
        f"`uvicorn {PACKAGE}.app:app` (prod profile)",
        (str(BIN / "uvicorn"), f"{PACKAGE}.app:app", "--port", "{port}", "--no-access-log"),
        (("FASTMANGO_ENV", "prod"),),
    ),
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench.startup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="starts of each command (default: %(default)s)")
    parser.add_argument(
        "--warmups", type=int, default=1, help="untimed starts of each command first (default: %(default)s)"
    )
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for one start (default: 60)")
    parser.add_argument("--baseline", type=Path, help="another fastmango checkout to measure in the same rounds")
    parser.add_argument(
        "--output", default=str(DEFAULT_OUTPUT), help="markdown file, or - for stdout only (default: %(default)s)"
    )
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_project(folder: Path) -> Path:
    """``fastmango init demo`` in ``folder``; returns the project root."""
    subprocess.run([str(BIN / "fastmango"), "init", PACKAGE], cwd=folder, check=True, capture_output=True, timeout=60)
    return folder / PACKAGE


def health_status(port: int, timeout: float) -> int | None:
    """The status of ``GET /health``, or None when nothing answers yet (raw socket: no client start-up cost)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            head = sock.recv(64)
    except OSError:
        return None
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def time_start(command: Command, project: Path, timeout: float, pythonpath: Path | None = None) -> tuple[float, float]:
    """Seconds from launching ``command`` to the first 200 from ``/health``, and the CPU seconds its processes
    used from launch to exit (the server is stopped at once, so this is mostly start-up)."""
    port = free_port()
    env = {**os.environ, **dict(command.env)}
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH", "")]))
    argv = [part.replace("{port}", str(port)) for part in command.argv]
    cpu_before = _children_cpu()
    ready: float | None = None
    start = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        while True:
            elapsed = time.perf_counter() - start
            if health_status(port, timeout=max(0.1, timeout - elapsed)) == 200:
                ready = time.perf_counter() - start
                break
            if process.poll() is not None:
                error = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"{command.label} exited with {process.returncode}: {error[-2000:]}")
            if elapsed > timeout:
                raise RuntimeError(f"{command.label} did not answer /health within {timeout:.0f} s")
            time.sleep(0.01)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert ready is not None
    # The reloader joins its server process, so the waited-for tree's CPU time includes both processes.
    return ready, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


Samples = dict[tuple[str, str], list[tuple[float, float]]]


def measure(project: Path, rounds: int, timeout: float, baseline: Path | None = None, warmups: int = 1) -> Samples:
    """(seconds, CPU seconds) of every start, keyed by (checkout, command label); the commands run interleaved."""
    checkouts: list[tuple[str, Path | None]] = [("this checkout", None)]
    if baseline is not None:
        checkouts.append((f"baseline {describe_checkout(baseline)}", baseline))
    samples: Samples = {}
    for _ in range(warmups):  # untimed starts fill the OS's file cache and write .pyc files
        for command in COMMANDS:
            for _, path in checkouts:
                time_start(command, project, timeout, path)
    for number in range(rounds):
        for command in COMMANDS:
            for name, path in checkouts:
                samples.setdefault((name, command.label), []).append(time_start(command, project, timeout, path))
        log(f"round {number + 1}/{rounds}: {load_average()}")
    return samples


def describe_checkout(path: Path) -> str:
    """The short commit of a checkout (its path when it is not a git checkout)."""
    completed = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=path, capture_output=True, text=True)
    return completed.stdout.strip() or str(path)


def load_average() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def render(samples: Samples, rounds: int, load: str) -> str:
    """The markdown report."""
    rows = []
    for (checkout, label), values in sorted(samples.items(), key=lambda item: _row_order(item[0])):
        seconds = [wall for wall, _ in values]
        cpu = statistics.median(used for _, used in values)
        rows.append(
            f"| {label} | {checkout} | {min(seconds):.2f} | {statistics.median(seconds):.2f} | "
            f"{max(seconds):.2f} | {cpu:.2f} |"
        )
    machine = f"Python {platform.python_version()}, uvicorn {version('uvicorn')}, {os.cpu_count()} CPU(s)"
    return "\n".join(
        [
            "## Start-up benchmark",
            "",
            "Seconds from launching the command to the first 200 from `/health`, on a project just made by "
            f"`fastmango init {PACKAGE}` (SQLite, default plugins). Best, median and worst of {rounds} starts of "
            "each command, interleaved; the server is stopped as soon as it answers. *CPU s* is the median CPU "
            "time (user + system) of all the command's processes from launch to exit: unlike the wall time it "
            "hardly moves when other work shares the machine, but it counts work done in parallel (the "
            "reloader and its server process) as if it were not. Production is "
            f"`uvicorn {PACKAGE}.app:app` with `FASTMANGO_ENV=prod`: `fastmango serve` does not exist yet.",
            "",
            f"{machine} ({platform.machine()}); {load} at the end of the run.",
            "",
            "Reproduce: `make bench-startup` or `.venv/bin/python -m tools.bench.startup` (writes this file).",
            "",
            "| command | checkout | best s | median s | worst s | CPU s |",
            "|---|---|---:|---:|---:|---:|",
            *rows,
            "",
        ]
    )


def _row_order(key: tuple[str, str]) -> tuple[int, int]:
    checkout, label = key
    labels = [command.label for command in COMMANDS]
    return labels.index(label), 0 if checkout == "this checkout" else 1


def main(argv: Sequence[str] | None = None) -> None:
    """Measure and print the report; write it to ``--output`` unless that is ``-``."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fastmango-startup-") as folder:
        project = make_project(Path(folder))
        samples = measure(project, args.rounds, args.timeout, args.baseline, args.warmups)
    markdown = render(samples, args.rounds, load_average())
    print(markdown, end="")
    if args.output != "-":
        output = Path(args.output)
        # A hand-written "## Findings" section below the table survives a rerun.
        previous = output.read_text(encoding="utf-8") if output.is_file() else ""
        findings = previous[previous.index(FINDINGS) :] if FINDINGS in previous else ""
        output.write_text(markdown + ("\n" + findings if findings else ""), encoding="utf-8")


if __name__ == "__main__":
    main()
