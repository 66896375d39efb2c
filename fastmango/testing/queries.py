"""Count the SQL statements a block of code sends, like Django's ``assertNumQueries``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event


class CapturedQueries(list[str]):
    """The SQL statements sent inside ``capture_queries()``, in order (transaction control excluded)."""

    @property
    def selects(self) -> list[str]:
        """Only the SELECT statements."""
        return [sql for sql in self if sql.lstrip().upper().startswith("SELECT")]


@contextmanager
def capture_queries(*, include_transaction_control: bool = False) -> Iterator[CapturedQueries]:
    """``with capture_queries() as queries:`` records each statement sent to the connected database.

    A statement run once with many parameter sets (``executemany``) counts once, as it is one round trip
    batch. BEGIN/COMMIT/ROLLBACK/SAVEPOINT are left out unless ``include_transaction_control``.
    """
    from fastmango.db.engine import get_database

    engine = get_database().engine.sync_engine
    captured = CapturedQueries()

    def before_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        keyword = statement.lstrip().split(" ", 1)[0].upper()
        if include_transaction_control or keyword not in {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}:
            captured.append(statement)

    event.listen(engine, "before_cursor_execute", before_execute)
    try:
        yield captured
    finally:
        event.remove(engine, "before_cursor_execute", before_execute)
