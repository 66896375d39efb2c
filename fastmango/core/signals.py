"""Signals: a lower layer announces what happened, a higher one listens, and neither imports the other's code
the wrong way (Django's signals, for synchronous receivers).

    job_event = Signal("job_event")           # in fastmango/tasks/signals.py
    job_event.connect(count_job)              # in fastmango/monitoring, which may import tasks
    job_event.send(event)                     # in the tasks runner: each receiver is called with it

A receiver that raises is logged and the others still run: a listener never breaks the work it observes. With
no receiver, ``send`` costs one list check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

logger = logging.getLogger("fastmango.signals")

T = TypeVar("T")


class Signal(Generic[T]):
    """A named event of type ``T`` with its receivers."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._receivers: list[Callable[[T], Any]] = []

    def connect(self, receiver: Callable[[T], Any]) -> Callable[[], None]:
        """Call ``receiver`` with each event sent from now on (once, however often it is connected); returns the
        function that disconnects it."""
        if receiver not in self._receivers:
            self._receivers.append(receiver)
        return lambda: self.disconnect(receiver)

    def disconnect(self, receiver: Callable[[T], Any]) -> None:
        """Stop calling ``receiver``."""
        if receiver in self._receivers:
            self._receivers.remove(receiver)

    @property
    def receivers(self) -> list[Callable[[T], Any]]:
        """The connected receivers, in order."""
        return list(self._receivers)

    def send(self, event: T) -> None:
        """Call every receiver with ``event``; a failing receiver is logged, never raised."""
        for receiver in list(self._receivers):
            try:
                receiver(event)
            except Exception:
                logger.exception("a receiver of the %s signal failed", self.name)

    def __repr__(self) -> str:
        return f"<Signal {self.name!r}: {len(self._receivers)} receivers>"
