"""Timing: the workload, the five operations, warm-up, and interleaved repetitions reduced to a median.

Each repetition times every implementation once, in a rotating order (A B C, B C A, C A B, ...), so that
drift of the machine during the run spreads over all of them. A timed batch runs ``iterations`` calls of
one operation on one implementation; its mean per call is one sample. The reported figure is the median
of the samples, in microseconds.

Reads are timed before writes. The rows a write batch adds are deleted after it (and PostgreSQL's table
vacuumed), outside the timing, so every batch of every implementation sees the same seeded table.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tools.bench.orm_impls import BookValues, Implementation

Log = Callable[[str], None]
Cleanup = Callable[[], Awaitable[None]]
"""Deletes the rows a write operation added (never timed)."""


@dataclass(frozen=True)
class Workload:
    """How much data and how many calls.

    Attributes:
        rows: Books seeded before timing.
        authors: Authors the books are spread over.
        iterations: Calls per timed batch.
        bulk_iterations: Calls per timed batch of ``bulk_create``.
        bulk_size: Rows per ``bulk_create`` call.
        repeats: Timed batches per implementation and operation; the median is reported.
    """

    rows: int = 10_000
    authors: int = 100
    iterations: int = 500
    bulk_iterations: int = 16
    bulk_size: int = 1000
    repeats: int = 5

    def author_names(self) -> list[str]:
        """The seeded authors' names, in primary-key order."""
        return [f"Author {n}" for n in range(1, self.authors + 1)]

    def book(self, n: int) -> BookValues:
        """The values of the ``n``-th book (1-based), seeded or written."""
        return (f"Book {n}", n * 37 % 1000 + 1, n % self.authors + 1)

    def books(self, start: int, count: int) -> list[BookValues]:
        """``count`` books from the ``start``-th on."""
        return [self.book(n) for n in range(start, start + count)]


@dataclass(frozen=True)
class Operation:
    """One benchmarked operation.

    Attributes:
        method: The :class:`Implementation` method that runs it.
        label: Its row in the results table.
        argument: The argument of the ``i``-th call (computed before timing).
        writes: Whether it adds rows (deleted after each batch, outside timing).
        bulk: Whether it uses the smaller ``bulk_iterations``.
    """

    method: str
    label: str
    argument: Callable[[Workload, int], Any]
    writes: bool = False
    bulk: bool = False

    def iterations(self, workload: Workload) -> int:
        """Calls per timed batch."""
        return workload.bulk_iterations if self.bulk else workload.iterations

    def warmup(self, workload: Workload) -> int:
        """Untimed calls per implementation before the first batch."""
        return 1 if self.bulk else max(2, workload.iterations // 10)


def operations(workload: Workload) -> list[Operation]:
    """The five operations, in table order (:func:`measurement_order` runs the reads first)."""
    return [
        Operation("get", "get by pk", lambda w, i: i * 7919 % w.rows + 1),
        Operation("filter_related", "filter + select_related, 20 rows", lambda w, i: i % 500),
        Operation("create", "create one", lambda w, i: w.book(w.rows + 1 + i), writes=True),
        Operation(
            "bulk_create",
            f"bulk_create {workload.bulk_size:,}",
            lambda w, i: w.books(w.rows + 1 + i * w.bulk_size, w.bulk_size),
            writes=True,
            bulk=True,
        ),
        Operation("count", "count (filtered)", lambda w, i: i % 1000),
    ]


def measurement_order(ops: Sequence[Operation]) -> list[Operation]:
    """The reads, then the writes: the reads then all see the freshly seeded table."""
    return sorted(ops, key=lambda operation: operation.writes)


async def time_batch(call: Callable[[Any], Awaitable[Any]], arguments: Sequence[Any]) -> float:
    """Mean seconds per call of ``call`` over ``arguments``, after a full garbage collection."""
    gc.collect()
    start = time.perf_counter()
    for argument in arguments:
        await call(argument)
    return (time.perf_counter() - start) / len(arguments)


@dataclass(frozen=True)
class CpuSample:
    """Microseconds per call: elapsed, and CPU time of this process (every thread; not the database server's)."""

    wall_us: float
    cpu_us: float


async def time_batch_cpu(call: Callable[[Any], Awaitable[Any]], arguments: Sequence[Any]) -> CpuSample:
    """Mean elapsed and process CPU microseconds per call of ``call`` over ``arguments``."""
    gc.collect()
    cpu, start = time.process_time(), time.perf_counter()
    for argument in arguments:
        await call(argument)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return CpuSample(wall / len(arguments) * 1e6, cpu / len(arguments) * 1e6)


async def measure_cpu(
    operation: Operation, calls: Mapping[str, Callable[[Any], Awaitable[Any]]], workload: Workload
) -> dict[str, CpuSample]:
    """Median elapsed and CPU microseconds per call of each of ``calls`` (by name) on ``operation``'s arguments,
    warmed up and interleaved as :func:`measure` does (reads only)."""
    iterations = operation.iterations(workload)
    warmup = [operation.argument(workload, i) for i in range(operation.warmup(workload))]
    for call in calls.values():
        await time_batch_cpu(call, warmup)
    names = list(calls)
    samples: dict[str, list[CpuSample]] = {name: [] for name in names}
    for repeat in range(workload.repeats):
        start = (repeat + 1) * iterations
        arguments = [operation.argument(workload, i) for i in range(start, start + iterations)]
        shift = repeat % len(names)
        for name in [*names[shift:], *names[:shift]]:
            samples[name].append(await time_batch_cpu(calls[name], arguments))
    return {
        name: CpuSample(statistics.median(s.wall_us for s in values), statistics.median(s.cpu_us for s in values))
        for name, values in samples.items()
    }


async def measure(
    operation: Operation,
    implementations: Sequence[Implementation],
    workload: Workload,
    cleanup: Cleanup,
) -> dict[str, float]:
    """Median microseconds per call of ``operation`` for each implementation, keyed by its name."""
    iterations = operation.iterations(workload)
    warmup = [operation.argument(workload, i) for i in range(operation.warmup(workload))]
    for implementation in implementations:
        await time_batch(getattr(implementation, operation.method), warmup)
        if operation.writes:
            await cleanup()
    samples: dict[str, list[float]] = {implementation.name: [] for implementation in implementations}
    for repeat in range(workload.repeats):
        start = (repeat + 1) * iterations
        arguments = [operation.argument(workload, i) for i in range(start, start + iterations)]
        shift = repeat % len(implementations)
        for implementation in [*implementations[shift:], *implementations[:shift]]:
            seconds = await time_batch(getattr(implementation, operation.method), arguments)
            samples[implementation.name].append(seconds * 1e6)
            if operation.writes:
                await cleanup()
    return {name: statistics.median(values) for name, values in samples.items()}
