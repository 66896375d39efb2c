"""Where the debug panel's records are kept: in memory (one process) or in Redis (shared by every process).

Both keep the newest ``max_records`` and drop the rest as new ones arrive, so the store never grows past its
bound (Telescope's table grows until someone prunes it). Redis records also expire after ``ttl`` seconds.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Protocol

import orjson

from fastmango.core.errors import ProblemError
from fastmango.core.recorder import Record
from fastmango.core.redis import RedisOutage, redis_client, redis_errors

logger = logging.getLogger("fastmango.devtools")

#: The Redis keys: a list of record ids, newest first, and one string per record.
INDEX_KEY = "fastmango:debug:records"
RECORD_KEY = "fastmango:debug:record:"
#: Seconds a panel read refused during a Redis outage tells the client to wait (``Retry-After``).
RETRY_AFTER_SECONDS = 5


class StoreUnavailable(ProblemError):
    """503: the Redis that keeps the records refused the connection or did not answer within the socket timeout.

    Raised by :class:`RedisStore` reads, so the panel answers ``503`` with ``Retry-After`` (not a 500 traceback).
    """

    def __init__(self, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        from fastmango.core.problems import problem_type

        super().__init__(
            503,
            f"The debug records' store (Redis) is unavailable right now; retry after {retry_after} seconds.",
            title="Service unavailable",
            type=problem_type("service-unavailable"),
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )


class RecordStore(Protocol):
    """What the panel needs of a store."""

    max_records: int

    async def save(self, record: Record) -> None: ...

    async def recent(self, limit: int) -> list[Record]: ...

    async def get(self, record_id: str) -> Record | None: ...

    async def close(self) -> None: ...


class MemoryStore:
    """The newest ``max_records`` records of this process."""

    def __init__(self, max_records: int = 200) -> None:
        self.max_records = max_records
        self._records: OrderedDict[str, Record] = OrderedDict()

    async def save(self, record: Record) -> None:
        self._records[record.id] = record
        while len(self._records) > self.max_records:
            self._records.popitem(last=False)

    async def recent(self, limit: int) -> list[Record]:
        return list(reversed(self._records.values()))[:limit]

    async def get(self, record_id: str) -> Record | None:
        return self._records.get(record_id)

    async def close(self) -> None:
        self._records.clear()


class RedisStore:
    """The newest ``max_records`` records of every process that shares the Redis database at ``url``.

    A Redis outage loses records (logged once), never a request: saving gives up after the socket timeout and
    skips Redis for a few seconds after a failure. Reads (the panel's) raise :class:`StoreUnavailable` meanwhile.
    """

    def __init__(self, url: str, max_records: int = 200, ttl: int = 86400, socket_timeout: float = 1.0) -> None:
        self.max_records = max_records
        self.ttl = ttl
        self._client: Any = redis_client(url, socket_timeout=socket_timeout)
        self._outage = RedisOutage("debug records are not kept meanwhile")

    async def save(self, record: Record) -> None:
        if self._outage.down():
            return
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.set(RECORD_KEY + record.id, orjson.dumps(record.to_dict(), default=str), ex=self.ttl)
                pipe.lpush(INDEX_KEY, record.id)
                pipe.lrange(INDEX_KEY, self.max_records, -1)
                pipe.ltrim(INDEX_KEY, 0, self.max_records - 1)
                *_, dropped, _ = await pipe.execute()
            if dropped:
                await self._client.delete(*(RECORD_KEY + record_id for record_id in dropped))
        except redis_errors() as exc:
            self._outage.failed(exc)
            return
        self._outage.succeeded()

    async def recent(self, limit: int) -> list[Record]:
        try:
            ids = await self._client.lrange(INDEX_KEY, 0, limit - 1)
            values = await self._client.mget([RECORD_KEY + record_id for record_id in ids]) if ids else []
        except redis_errors() as exc:
            self._outage.failed(exc)
            raise StoreUnavailable() from exc
        return [record for value in values if value is not None and (record := _decoded(value)) is not None]

    async def get(self, record_id: str) -> Record | None:
        try:
            value = await self._client.get(RECORD_KEY + record_id)
        except redis_errors() as exc:
            self._outage.failed(exc)
            raise StoreUnavailable() from exc
        return _decoded(value) if value is not None else None

    async def close(self) -> None:
        await self._client.aclose()


_SECTIONS = ("queries", "logs", "tasks", "ai", "warnings")


def _decoded(value: bytes | str) -> Record | None:
    """The record stored as ``value``; None (and a warning) for what is not one: it is left out, not a 500."""
    try:
        record: Record | None = Record.from_dict(orjson.loads(value))  # TypeError: not a mapping, unknown fields
    except (orjson.JSONDecodeError, TypeError, ValueError):
        record = None
    if record is None or not _well_formed(record):
        logger.warning("A debug record in Redis is not one a store saved; it is left out")
        return None
    return record


def _well_formed(record: Record) -> bool:
    sections = (getattr(record, section) for section in _SECTIONS)
    lists = all(isinstance(entries, list) and all(isinstance(e, dict) for e in entries) for entries in sections)
    return lists and isinstance(record.meta, dict) and isinstance(record.dropped, dict)
