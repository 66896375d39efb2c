"""Before timing anything, check that every implementation returns the same, expected rows.

A benchmark of a wrong answer is worthless: a failed check stops the run with a message naming the
implementation, the call, what it returned and what was expected.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from tools.bench.orm_harness import Cleanup, Workload
from tools.bench.orm_impls import PAGE_SIZE, Implementation
from tools.bench.orm_raw import RawImpl

DictsCall = Callable[[int], Awaitable[list[dict[str, Any]]]]
"""A 20-row read with its relation whose rows are built into dicts (``filter_related_dicts``)."""


class CheckFailed(Exception):
    """An implementation returned something other than the expected result."""


def _expect(implementation: Implementation, call: str, got: Any, expected: Any) -> None:
    _expect_named(implementation.name, call, got, expected)


def _expect_named(name: str, call: str, got: Any, expected: Any) -> None:
    if got != expected:
        raise CheckFailed(f"{name}: {call} returned {got!r}, expected {expected!r}")


async def check_reads(implementations: Sequence[Implementation], workload: Workload) -> None:
    """``get``, ``filter_related`` and ``count`` agree with the seeded data."""
    seeded = {n: workload.book(n) for n in range(1, workload.rows + 1)}
    for implementation in implementations:
        for pk in (1, workload.rows // 2 + 1, workload.rows):
            got = implementation.book_row(await implementation.get(pk))
            _expect(implementation, f"get({pk})", got, (pk, *seeded[pk]))
        for min_pages in (0, 499, 990):
            books = [(n, v[2], f"Author {v[2]}") for n, v in seeded.items() if v[1] > min_pages][:PAGE_SIZE]
            rows = await implementation.filter_related(min_pages)
            got = [implementation.joined_row(row) for row in rows]
            _expect(implementation, f"filter_related({min_pages})", got, books)
        for min_pages in (0, 500):
            expected = sum(1 for values in seeded.values() if values[1] > min_pages)
            _expect(implementation, f"count({min_pages})", await implementation.count(min_pages), expected)


async def check_dicts(raw: RawImpl, calls: Mapping[str, DictsCall]) -> None:
    """Each of ``calls`` (by name) returns the rows of the raw driver's :meth:`filter_related` (checked by
    :func:`check_reads`) built into dicts, the author nested."""
    for min_pages in (0, 499, 990):
        rows = await raw.filter_related(min_pages)
        expected = [
            {"id": r[0], "title": r[1], "pages": r[2], "author_id": r[3], "author": {"id": r[4], "name": r[5]}}
            for r in rows
        ]
        for name, call in calls.items():
            _expect_named(name, f"filter_related_dicts({min_pages})", await call(min_pages), expected)


async def check_writes(
    implementations: Sequence[Implementation],
    raw: RawImpl,
    workload: Workload,
    cleanup: Cleanup,
) -> None:
    """``create`` and ``bulk_create`` insert the rows they were given and report their primary keys."""
    for implementation in implementations:
        values = workload.book(workload.rows + 1)
        pk = implementation.created_pk(await implementation.create(values))
        _expect(implementation, f"create({values!r}) then get", raw.book_row(await raw.get(pk)), (pk, *values))
        await cleanup()
        rows = workload.books(workload.rows + 1, 5)
        pks = implementation.bulk_pks(await implementation.bulk_create(rows))
        _expect(implementation, "bulk_create(5 rows) then count", await raw.count(0), workload.rows + 5)
        if pks is not None:
            stored = [raw.book_row(await raw.get(pk))[1:] for pk in pks]
            _expect(implementation, "bulk_create(5 rows): rows at the primary keys it set", stored, rows)
        await cleanup()
