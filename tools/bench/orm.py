"""ORM micro-benchmark: the same five operations done with fastmango, with SQLAlchemy's async ORM as its
docs show, and with hand-written SQL on the bare driver, on SQLite and PostgreSQL.

    .venv/bin/python -m tools.bench.orm                       # both databases, prints markdown tables
    .venv/bin/python -m tools.bench.orm --output tools/bench/ORM_RESULTS.md
    .venv/bin/python -m tools.bench.orm --sqlite-only --iterations 3 --repeats 1 --rows 200   # smoke run

Progress goes to stderr, the markdown to stdout (and ``--output``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from functools import partial
from importlib.metadata import version
from pathlib import Path

from tools.bench.orm_checks import CheckFailed, check_dicts, check_reads, check_writes
from tools.bench.orm_harness import (
    Cleanup,
    CpuSample,
    Log,
    Workload,
    measure,
    measure_cpu,
    measurement_order,
    operations,
)
from tools.bench.orm_impls import FastmangoImpl, Implementation, SqlAlchemyImpl
from tools.bench.orm_pinning import BENCH_CPU, pin_backends, pin_benchmark
from tools.bench.orm_raw import RawAsyncpg, RawImpl
from tools.bench.orm_report import CORE_ROW, FASTMANGO_ROW, SQLALCHEMY_ROW, DatabaseResult, document
from tools.bench.orm_targets import DEFAULT_POSTGRES_URL, Target, postgres_target, sqlite_target
from tools.bench.plan_cache import difference, read_plan_cache_stats

POOL_SIZE = 10


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench.orm", description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    which.add_argument("--postgres-only", action="store_true", help="skip SQLite")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="a database on the server to use; the benchmark creates and drops its own (default: %(default)s)",
    )
    parser.add_argument("--iterations", type=int, default=500, help="calls per timed batch (default: %(default)s)")
    parser.add_argument(
        "--bulk-iterations", type=int, help="calls per timed batch of bulk_create (default: iterations / 30, min 1)"
    )
    parser.add_argument("--bulk-size", type=int, default=1000, help="rows per bulk_create (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5, help="timed batches; the median is kept (default: 5)")
    parser.add_argument("--rows", type=int, default=10_000, help="books seeded (default: %(default)s)")
    parser.add_argument("--authors", type=int, default=100, help="authors seeded (default: %(default)s)")
    parser.add_argument("--output", type=Path, help="also write the markdown to this file")
    parser.add_argument(
        "--no-pin", action="store_true", help="pin neither the process (CPU 0) nor PostgreSQL's backends (CPU 1)"
    )
    args = parser.parse_args(argv)
    for name in ("iterations", "bulk_size", "repeats", "rows", "authors"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def workload_from(args: argparse.Namespace) -> Workload:
    """The workload the command line asks for."""
    bulk_iterations = args.bulk_iterations or max(1, args.iterations // 30)
    return Workload(
        rows=args.rows,
        authors=args.authors,
        iterations=args.iterations,
        bulk_iterations=bulk_iterations,
        bulk_size=args.bulk_size,
        repeats=args.repeats,
    )


def pinning_sentence(enabled: bool) -> str:
    """Pin the process to CPU 0 when ``enabled``; a sentence for the report saying what happened."""
    if not enabled:
        return "Nothing was pinned to a CPU."
    reason = pin_benchmark()
    if reason is not None:
        return f"The process could not be pinned to a CPU ({reason})."
    return f"The process (event loop and aiosqlite's threads) was pinned to CPU {BENCH_CPU}."


def describe_environment(pinning: str) -> str:
    """Versions and machine, for the report."""
    packages = ", ".join(f"{name} {version(name)}" for name in ("SQLAlchemy", "sqlmodel", "asyncpg", "aiosqlite"))
    return (
        f"Python {platform.python_version()} (asyncio default event loop), {packages}, "
        f"{cpu_model()} ({os.cpu_count()} cores). {pinning}"
    )


def cpu_model() -> str:
    """The CPU's model name, when Linux tells it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


async def run_database(target: Target, workload: Workload, log: Log, *, pin: bool) -> DatabaseResult:
    """Seed one database, check every implementation, then time each operation.

    With ``pin``, the PostgreSQL backends serving the benchmark (once every pool has its connection) go to
    the other CPU.
    """
    fastmango = FastmangoImpl(target.url, pool_size=POOL_SIZE)
    sqlalchemy = SqlAlchemyImpl(target.sqlalchemy_url, pool_size=POOL_SIZE if target.driver == "asyncpg" else None)
    raw = target.raw()
    implementations = [fastmango, sqlalchemy, raw]
    try:
        for implementation in implementations:
            await implementation.start()
        await fastmango.create_tables()
        await raw.seed(workload.author_names(), workload.books(1, workload.rows))
        cleanup = partial(raw.delete_books_after, workload.rows)
        log(f"{target.label}: seeded {workload.rows:,} books; checking results")
        await check_reads(implementations, workload)
        await check_writes(implementations, raw, workload, cleanup)
        note = ""
        if isinstance(raw, RawAsyncpg):
            note = await pin_server(raw) if pin else "PostgreSQL's backends were not pinned to a CPU."
        cache_before = read_plan_cache_stats()
        timings = await time_operations(implementations, workload, cleanup, partial(_prefixed, log, target.label))
        log(f"{target.label}: in-process CPU of filter + select_related against {raw.name} rows built into dicts")
        cpu = await time_cpu(fastmango, sqlalchemy, raw, workload)
        cache = difference(cache_before, read_plan_cache_stats())
        return DatabaseResult(target.label, await raw.server_version(), raw.name, timings, note, cpu, cache)
    finally:
        for implementation in reversed(implementations):
            await implementation.close()


async def time_operations(
    implementations: Sequence[Implementation], workload: Workload, cleanup: Cleanup, log: Log
) -> dict[str, dict[str, float]]:
    """Median microseconds per call, by operation label (in table order) and implementation name."""
    table = operations(workload)
    timings = {}
    for operation in measurement_order(table):
        log(operation.label)
        timings[operation.label] = await measure(operation, implementations, workload, cleanup)
    return {operation.label: timings[operation.label] for operation in table}


async def time_cpu(
    fastmango: FastmangoImpl, sqlalchemy: SqlAlchemyImpl, raw: RawImpl, workload: Workload
) -> dict[str, CpuSample]:
    """Elapsed and CPU time per call of the 20-row read with its relation, by :func:`cpu_rows` name (the raw
    row under the driver's name). SQLAlchemy Core runs on the ORM's engine; the rows building dicts are
    checked first."""
    dicts = {CORE_ROW: sqlalchemy.core().filter_related_dicts, raw.name: raw.filter_related_dicts}
    await check_dicts(raw, dicts)
    operation = next(op for op in operations(workload) if op.method == "filter_related")
    calls = {FASTMANGO_ROW: fastmango.filter_related, SQLALCHEMY_ROW: sqlalchemy.filter_related}
    return await measure_cpu(operation, {**calls, **dicts}, workload)


def _prefixed(log: Log, prefix: str, message: str) -> None:
    log(f"{prefix}: {message}")


async def pin_server(raw: RawAsyncpg) -> str:
    """Pin the PostgreSQL backends serving the benchmark's connections to the other CPU."""
    database, pids = await raw.backend_pids()
    return pin_backends(pids, database)


async def run(args: argparse.Namespace, workload: Workload, log: Log) -> list[DatabaseResult]:
    """Every requested database in turn."""
    targets: list[AbstractAsyncContextManager[Target]] = []
    if not args.postgres_only:
        targets.append(sqlite_target())
    if not args.sqlite_only:
        targets.append(postgres_target(args.postgres_url))
    results = []
    for context in targets:
        async with context as target:
            results.append(await run_database(target, workload, log, pin=not args.no_pin))
    return results


def make_log() -> Log:
    """Progress lines on stderr, with the seconds since start."""
    started = time.perf_counter()
    return lambda message: print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the markdown (and write it to ``--output``)."""
    args = parse_args(argv)
    pinning = pinning_sentence(not args.no_pin)
    workload = workload_from(args)
    try:
        results = asyncio.run(run(args, workload, make_log()))
    except CheckFailed as exc:
        print(f"check failed, nothing timed: {exc}", file=sys.stderr)
        return 2
    command = "python -m tools.bench.orm " + " ".join(argv if argv is not None else sys.argv[1:])
    markdown = document(results, workload, describe_environment(pinning), command.strip())
    print(markdown, end="")
    if args.output is not None:
        args.output.write_text(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
