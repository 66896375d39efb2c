"""Rows written in batches off the hot path: the AI usage ledger and the job-events record use one writer.

``add(row)`` buffers a row and never waits for the database; a background task writes the buffer with one
``bulk_create`` once it holds ``flush_records`` rows or ``flush_seconds`` after the first unwritten one, in a
context of its own (the write is never part of the caller's transaction, nor of its debug record). A failed write
puts the batch back (at most ``max_buffer`` rows, the oldest dropped) for the next flush and is logged once until a
write succeeds again: a database outage never breaks the work that produced the rows.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any, Generic, TypeVar

M = TypeVar("M")


class BufferedWriter(Generic[M]):
    """The process-wide buffer of rows of ``model`` and its flush policy.

    Args:
        model: The table model whose rows are buffered.
        what: The rows in words, for the log (``"AI usage records"``).
        logger: Where a failed write is reported.
    """

    def __init__(
        self,
        model: Any,
        what: str,
        logger: logging.Logger,
        *,
        flush_records: int = 100,
        flush_seconds: float = 2.0,
        max_buffer: int = 10_000,
        enabled: bool = True,
    ) -> None:
        self.model = model
        self.what = what
        self.logger = logger
        self.flush_records = flush_records
        self.flush_seconds = flush_seconds
        self.max_buffer = max_buffer
        self.enabled = enabled
        self.buffer: list[M] = []
        self.writing: list[M] = []  # the batch being written (still pending for readers such as budgets)
        self._failing = False
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, row: M) -> None:
        """Buffer ``row`` and schedule its write; never waits for the database."""
        if not self.enabled:
            return
        self.buffer.append(row)
        if len(self.buffer) > self.max_buffer:
            del self.buffer[: len(self.buffer) - self.max_buffer]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if loop is not self._loop:  # a new event loop (tests, CLI): timers and the lock of the old one are dead
            self._loop, self._timer, self._lock, self._tasks = loop, None, None, set()
        if len(self.buffer) >= self.flush_records:
            self._spawn()
        elif self._timer is None:
            self._timer = loop.call_later(self.flush_seconds, self._spawn)

    def pending(self) -> list[M]:
        """Rows not yet committed."""
        return [*self.writing, *self.buffer]

    async def after_write(self) -> None:
        """Called after each successful write (a subclass prunes old rows here)."""

    def _spawn(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        task = asyncio.get_running_loop().create_task(self._flush(), context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self.buffer:
                return
            self.writing, self.buffer = self.buffer, []
            try:
                await self.model.objects.bulk_create(self.writing)
            except Exception as exc:
                if not self._failing:
                    self.logger.warning(
                        "could not write %d %s (%s: %s); keeping them for the next write (at most %d)",
                        len(self.writing),
                        self.what,
                        type(exc).__name__,
                        exc,
                        self.max_buffer,
                    )
                self._failing = True
                self.buffer[:0] = self.writing
                del self.buffer[: max(0, len(self.buffer) - self.max_buffer)]
                return
            else:
                if self._failing:
                    self.logger.info("%s are written again", self.what)
                self._failing = False
            finally:
                self.writing = []
            try:  # the rows are in: a failure here must not put them back (they would be written twice)
                await self.after_write()
            except Exception as exc:
                self.logger.warning("after writing %s: %s: %s", self.what, type(exc).__name__, exc)

    async def flush(self) -> None:
        """Write every buffered row now (and wait for flushes in progress)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._loop is asyncio.get_running_loop():
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        else:
            self._loop, self._lock, self._tasks = asyncio.get_running_loop(), None, set()
        await self._flush()

    def discard(self) -> None:
        """Forget buffered rows (tests)."""
        self.buffer.clear()
