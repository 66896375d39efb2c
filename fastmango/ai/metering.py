"""AI usage metering: one ``ai_usage`` row per model request and per tool call, written off the request path.

Records are buffered in memory and written with one ``bulk_create`` per batch, by a background task started when
the buffer reaches ``ai_usage_flush_records`` rows or ``ai_usage_flush_seconds`` after the first unwritten row,
whichever comes first. The AI plugin flushes on shutdown; ``await fastmango.ai.flush_usage()`` flushes now.

Loss bound: a process that dies without shutting down loses the rows still buffered, at most
``ai_usage_flush_records`` rows or ``ai_usage_flush_seconds`` of traffic (plus a batch whose write failed and was
being retried). A failed write keeps the rows for the next flush, up to ``MAX_BUFFER`` rows (the oldest are dropped).

Nothing here imports Pydantic AI: the capability that produces the records lives in ``fastmango.ai.capability``.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any, ClassVar

from fastmango.core import recorder
from fastmango.core.signals import Signal
from fastmango.db import Field, Model, UTCDateTime
from fastmango.db.buffered import BufferedWriter

logger = logging.getLogger("fastmango.ai")

MAX_BUFFER = 10_000


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class UsageRecord(Model, table=True):
    """One model request (``kind="model"``) or tool call (``kind="tool"``) made by an agent run.

    ``cost`` is the provider price in US dollars from genai-prices; None when the model's price is unknown.
    A cache hit has ``cache_hit`` set, no tokens, no cost and ``cost_saved`` (the cost of the reused response).
    """

    __tablename__: ClassVar[str] = "ai_usage"

    id: int | None = Field(default=None, primary_key=True)
    time: datetime.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    kind: str = Field(default="model", max_length=8)
    run_id: str | None = Field(default=None, max_length=64, index=True)
    agent: str | None = Field(default=None, max_length=100, index=True)
    model: str | None = Field(default=None, max_length=200)
    provider: str | None = Field(default=None, max_length=100)
    user_id: int | None = Field(default=None, index=True)
    route: str | None = Field(default=None, max_length=500)
    task: str | None = Field(default=None, max_length=200)
    tool: str | None = Field(default=None, max_length=200, index=True)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    requests: int = 0
    cost: float | None = None
    latency_ms: float = 0.0
    cache_hit: bool = False
    cost_saved: float | None = None
    status: str = Field(default="ok", max_length=16)
    error_type: str | None = Field(default=None, max_length=100)


#: Sent with every model request and tool call recorded (metering on or off), in the process that made it: the
#: monitoring layer counts them.
usage_recorded: Signal[UsageRecord] = Signal("usage_recorded")


class UsageMeter(BufferedWriter[UsageRecord]):
    """The process-wide buffer of usage records and its flush policy."""

    def __init__(self, flush_records: int = 100, flush_seconds: float = 2.0, enabled: bool = True) -> None:
        super().__init__(
            UsageRecord,
            "AI usage records",
            logger,
            flush_records=flush_records,
            flush_seconds=flush_seconds,
            max_buffer=MAX_BUFFER,
            enabled=enabled,
        )

    def configure(self, settings: Any) -> None:
        """Take the flush policy from ``settings``."""
        self.flush_records = settings.ai_usage_flush_records
        self.flush_seconds = settings.ai_usage_flush_seconds
        self.enabled = settings.ai_metering

    def record(self, record: UsageRecord) -> None:
        """Buffer ``record``; never waits for the database. The open debug record and ``usage_recorded`` get it too."""
        usage_recorded.send(record)
        if recorder.current() is not None:
            recorder.note("ai", _debug_entry(record))
        self.add(record)


meter = UsageMeter()
"""The process-wide usage meter; the AI plugin configures it from the settings."""


def _debug_entry(record: UsageRecord) -> dict[str, Any]:
    """What the debug panel shows of a model request or tool call."""
    if record.kind == "tool":
        detail = f"{record.status}, {record.latency_ms:.1f} ms"
        return {"kind": "tool_call", "name": record.tool, "detail": detail, "status": record.status}
    tokens = f"{record.input_tokens} in, {record.output_tokens} out"
    cost = "cache hit" if record.cache_hit else f"${record.cost:.6f}" if record.cost is not None else "price unknown"
    detail = f"{tokens}, {cost}, {record.latency_ms:.1f} ms, {record.status}"
    return {
        "kind": "model_request",
        "name": record.model,
        "detail": detail,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "cost": record.cost,
        "status": record.status,
    }


async def flush_usage() -> None:
    """Write the buffered AI usage records to ``ai_usage`` now."""
    await meter.flush()


def capabilities(
    settings: Any = None,
    *,
    agent: str | None = None,
    cache_ttl: float | None = None,
    shared: bool = False,
    registry: Any = None,
) -> list[Any]:
    """The fastmango capabilities for a plain ``pydantic_ai.Agent(..., capabilities=fastmango.ai.capabilities())``:
    metering, budgets, the tool call limit and the response/tool-result cache.

    Args:
        settings: The project settings (default: the running app's).
        agent: The agent name to record when the ``Agent`` has no ``name``.
        cache_ttl: Seconds a model response is reused for (default ``settings.ai_cache_ttl``; None/0: no cache).
        shared: Share cached responses between users (otherwise the cache key includes the user).
        registry: The tool registry whose ``cache_ttl`` tool options apply (default: the global one).
    """
    from fastmango.ai.capability import FastMangoCapability

    return [
        FastMangoCapability(settings=settings, agent_name=agent, cache_ttl=cache_ttl, shared=shared, registry=registry)
    ]
