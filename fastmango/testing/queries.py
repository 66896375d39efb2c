"""Count the SQL statements a block of code sends, like Django's ``assertNumQueries``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
