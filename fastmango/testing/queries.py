"""Count the SQL statements a block of code sends, like Django's ``assertNumQueries``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastmango.db.hook import QueryEvent, listening

_TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"})


class CapturedQueries(list[str]):
    """The SQL statements sent inside ``capture_queries()``, in order (transaction control excluded).

    ``events`` holds the query hook's record of each (parameters, duration, rows, shape, connection).
    """

    def __init__(self) -> None:
        super().__init__()
        self.events: list[QueryEvent] = []

    @property
    def selects(self) -> list[str]:
        """Only the SELECT statements."""
        return [sql for sql in self if sql.lstrip().upper().startswith("SELECT")]


@contextmanager
def capture_queries(*, include_transaction_control: bool = False) -> Iterator[CapturedQueries]:
    """``with capture_queries() as queries:`` records each statement the database runs, on every route (the
    ORM's session, Core connections and the direct asyncpg route alike), from the query hook.

    A statement run once with many parameter sets (``executemany``) counts once, as it is one round trip
    batch. BEGIN/COMMIT/ROLLBACK/SAVEPOINT are left out unless ``include_transaction_control``.
    """
    captured = CapturedQueries()

    def record(query: QueryEvent) -> None:
        keyword = query.sql.lstrip().split(" ", 1)[0].upper()
        if include_transaction_control or keyword not in _TRANSACTION_CONTROL:
            captured.append(query.sql)
            captured.events.append(query)

    with listening(record):
        yield captured


class TooManyQueries(AssertionError):
    """The block of :func:`assert_max_queries` ran more statements than it allows."""


@contextmanager
def assert_max_queries(limit: int, *, include_transaction_control: bool = False) -> Iterator[CapturedQueries]:
    """``with assert_max_queries(3):`` fails when the block runs more than ``limit`` statements (Django's
    ``assertNumQueries``, as a bound). The failure lists the statements, the repeated ones grouped first: the same
    statement run again and again is usually an N+1 (a query per row), fixed by loading the rows at once.

    Raises:
        TooManyQueries: more than ``limit`` statements ran (an ``AssertionError``: pytest shows the message).
    """
    with capture_queries(include_transaction_control=include_transaction_control) as queries, _entries() as entries:
        yield queries
    if len(queries) > limit:
        raise TooManyQueries(_too_many(queries, entries, limit))


@contextmanager
def assert_no_n_plus_one(threshold: int = 3) -> Iterator[CapturedQueries]:
    """``with assert_no_n_plus_one():`` fails when the block runs one query ``threshold`` times or more with other
    values (an N+1: a query per row), naming the relation and the fix (``select_related("author")``): the strict
    mode of the debug panel's N+1 warning, for tests (Rails bullet's ``raise``).

    Raises:
        NPlusOneDetected: a query was repeated (an ``AssertionError``: pytest shows the message).
    """
    from fastmango.devtools.nplusone import NPlusOneDetected, find_repeated

    with capture_queries() as queries, _entries() as entries:
        yield queries
    warnings = find_repeated(entries, threshold)
    if warnings:
        raise NPlusOneDetected("\n".join(f"N+1: {warning['message']}" for warning in warnings))


@contextmanager
def _entries() -> Iterator[list[dict[str, Any]]]:
    """The block's statements as the debug panel records them (with the line of user code that ran each)."""
    from fastmango.devtools.watchers import query_entry

    entries: list[dict[str, Any]] = []
    with listening(lambda query: entries.append(query_entry(query))):
        yield entries


def _too_many(queries: CapturedQueries, entries: list[dict[str, Any]], limit: int) -> str:
    counts: dict[str, int] = {}
    for sql in queries:
        key = " ".join(sql.split())
        counts[key] = counts.get(key, 0) + 1
    lines = [f"{len(queries)} statements ran, at most {limit} expected:"]
    for sql, times in sorted(counts.items(), key=lambda item: -item[1]):
        shown = sql if len(sql) <= 200 else sql[:199] + "…"
        lines.append(f"  {times}x {shown}")
    from fastmango.devtools.nplusone import find_repeated

    named = [warning for warning in find_repeated(entries, threshold=2) if warning["relation"]]
    repeated = max(counts.values())
    if named:
        lines.extend(f"N+1: {warning['message']}" for warning in named)
    elif repeated > 1:
        lines.append(
            f"One statement ran {repeated} times: a query per row (N+1)? Load the rows at once: "
            'select_related("<relation>") for a to-one relation, prefetch_related("<relation>") for a to-many '
            "one, or one filter(<field>__in=[...]) instead of a query in a loop."
        )
    return "\n".join(lines)
