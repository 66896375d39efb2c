"""CPU pinning on a two-core machine: the benchmark (event loop and driver threads) on CPU 0, and the
PostgreSQL backends that serve its connections on CPU 1, so that neither waits for the other's core.

Backends are pinned only when they are local processes this user may change: a process is taken to be
one of the benchmark's backends only when its title (``postgres: user fm_bench_... 127.0.0.1(...)``) names
the benchmark's own database.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

BENCH_CPU = 0
SERVER_CPU = 1


def pin_benchmark() -> str | None:
    """Pin this process to ``BENCH_CPU``; call it before any thread starts (threads inherit it).

    Returns:
        None when pinned, else why not.
    """
    if not hasattr(os, "sched_setaffinity"):
        return "no sched_setaffinity on this platform"
    if (os.cpu_count() or 1) <= SERVER_CPU:
        return "a single CPU"
    try:
        os.sched_setaffinity(0, {BENCH_CPU})
    except OSError as exc:
        return str(exc)
    return None


def pin_backends(pids: Iterable[int], database: str) -> str:
    """Pin the local server processes ``pids`` that serve ``database`` to ``SERVER_CPU``.

    Returns:
        A sentence for the report saying what was pinned.
    """
    pinned, skipped = 0, []
    for pid in pids:
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            skipped.append(f"{pid}: not a local process")
            continue
        if database not in title:
            skipped.append(f"{pid}: not a backend of {database}")
            continue
        try:
            os.sched_setaffinity(pid, {SERVER_CPU})
        except OSError as exc:
            skipped.append(f"{pid}: {exc}")
            continue
        pinned += 1
    if skipped:
        return f"{pinned} server backend(s) pinned to CPU {SERVER_CPU}, not {'; '.join(skipped)}."
    return f"The {pinned} server backends serving the benchmark's connections were pinned to CPU {SERVER_CPU}."
