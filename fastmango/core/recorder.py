"""Records of what one request, job or agent run did, for the debug panel (:mod:`fastmango.devtools`).

A record is opened around a unit of work (``async with recording("request", "GET /posts"):``) and collects, from
the layers that do the work, what happened inside it: SQL statements (from the query hook), log lines, task
enqueues, AI model requests and tool calls with each permission decision. Layers add to the current record with
:func:`note`, which is one context-variable read when nothing records.

Nothing records until a *sink* is installed (:func:`install`, done by the devtools plugin in DEBUG or when the
panel is enabled): without one, :func:`recording` yields None and costs a context-variable read.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import Any

from fastmango.core.logging import request_id_var

#: The most entries of one section a record keeps; the rest are counted in ``dropped``.
MAX_ENTRIES = 1000

Sink = Callable[["Record"], Awaitable[None]]
_sink: Sink | None = None
_current: ContextVar[Record | None] = ContextVar("fastmango_record", default=None)


@dataclass
class Record:
    """What one request (``kind="request"``), job (``"job"``) or agent run (``"agent"``) did.

    Attributes:
        id: The record's id (hex).
        kind: ``"request"``, ``"job"`` or ``"agent"``.
        name: ``GET /posts/{pk}``, the task's name or the agent's.
        request_id: The request id it ran under (``X-Request-ID``), linking a request to what it caused.
        parent: The id of the record that was open when this one started (an inline job inside a request).
        started_at: Unix time of the start.
        duration: Seconds it took (set at the end).
        status: The response status (requests), ``"ok"`` / ``"failed"`` / ``"retried"`` (jobs, runs).
        user: Who it ran for (username), when known.
        meta: Kind-specific details: method, path, route, headers, job id, attempt, error.
        queries: The SQL statements run, in order.
        logs: The log records emitted.
        tasks: The jobs queued.
        ai: Model requests, tool calls and permission decisions.
        warnings: Findings about the work (repeated statements: N+1), added when the record closes.
        dropped: Entries left out per section past :data:`MAX_ENTRIES`.
    """

    id: str
    kind: str
    name: str
    request_id: str | None = None
    parent: str | None = None
    started_at: float = 0.0
    duration: float | None = None
    status: int | str | None = None
    user: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    queries: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    ai: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    #: Whether the sink saves it (a middleware may decide at the end that it should not be kept).
    keep: bool = True
    #: The record that was open when this one started (not saved with it).
    outer: Record | None = field(default=None, repr=False, compare=False, metadata={"saved": False})

    def add(self, section: str, entry: dict[str, Any]) -> None:
        """Append ``entry`` to ``section`` (``queries``, ``logs``, ``tasks``, ``ai``), up to the bound."""
        entries: list[dict[str, Any]] = getattr(self, section)
        if len(entries) < MAX_ENTRIES:
            entries.append(entry)
        else:
            self.dropped[section] = self.dropped.get(section, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (what a store keeps)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("saved", True)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """A record from :meth:`to_dict`'s data."""
        return cls(**data)


def install(sink: Sink | None) -> None:
    """Save each finished record with ``sink`` from now on (None: record nothing)."""
    global _sink
    _sink = sink


def installed() -> Sink | None:
    """The sink installed now (None: nothing records)."""
    return _sink


def current() -> Record | None:
    """The record of the work running now, or None."""
    return _current.get()


def note(section: str, entry: dict[str, Any]) -> None:
    """Add ``entry`` to ``section`` of the current record and of the records it runs within (an agent run's
    statements are also the request's), if one is open."""
    record = _current.get()
    while record is not None:
        record.add(section, entry)
        record = record.outer


@asynccontextmanager
async def recording(kind: str, name: str, **meta: Any) -> AsyncIterator[Record | None]:
    """Open a record for the block; it is saved by the sink when the block ends (even by an exception).

    Yields None, and records nothing, when no sink is installed.
    """
    sink = _sink
    if sink is None:
        yield None
        return
    outer = _current.get()
    record = Record(
        id=uuid.uuid4().hex,
        kind=kind,
        name=name,
        request_id=request_id_var.get(),
        parent=outer.id if outer is not None else None,
        started_at=time.time(),
        meta=meta,
        outer=outer,
    )
    token = _current.set(record)
    started = time.perf_counter()
    try:
        yield record
    finally:
        record.duration = time.perf_counter() - started
        _current.reset(token)
        if record.keep:
            await sink(record)
