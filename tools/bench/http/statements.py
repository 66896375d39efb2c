"""The statements one request runs, read from the fastmango app through fastmango's query hook.

The bench app serves :data:`PATH`: ``POST`` starts recording every statement the process runs
(:func:`fastmango.db.hook.subscribe`), ``GET`` stops and answers them as a JSON list of SQL strings. The harness
sends one request in between, with nothing else loading the app, so the list is that request's statements. No
listener is subscribed while wrk loads the app: the hook then costs one list check per statement.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

PATH = "/_bench/statements"
#: Transaction control is left out, as ``fastmango.testing.capture_queries`` leaves it out.
_TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"})
_COUNT = re.compile(r"\bcount\s*\(", re.IGNORECASE)
_CAPPED = re.compile(r"\bcount\s*\(.*\bFROM\s*\(\s*SELECT\b.*\bLIMIT\b", re.IGNORECASE)


class Recorder:
    """The SQL of the statements run between :meth:`start` and :meth:`stop` (one recording at a time)."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        from fastmango.db import hook

        self.stop()
        self._unsubscribe = hook.subscribe(self._record)

    def stop(self) -> list[str]:
        """Stop recording; the statements recorded (once: a second ``stop`` answers none)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        recorded, self.sql = self.sql, []
        return recorded

    def _record(self, query: Any) -> None:
        keyword = query.sql.lstrip().split(" ", 1)[0].upper()
        if keyword not in _TRANSACTION_CONTROL:
            self.sql.append(" ".join(query.sql.split()))


def is_count(sql: str) -> bool:
    """Whether a statement counts rows (``count(`` anywhere in it, a capped ``count(*)`` over a subquery too)."""
    return bool(_COUNT.search(sql))


def is_capped_count(sql: str) -> bool:
    """Whether a COUNT counts a subquery with a LIMIT (``SELECT count(*) FROM (SELECT ... LIMIT $1)``): it reads
    at most that many rows, yet is a COUNT."""
    return bool(_CAPPED.search(sql))


def counts(statements: Sequence[str]) -> list[str]:
    """The statements among ``statements`` that count rows."""
    return [sql for sql in statements if is_count(sql)]
