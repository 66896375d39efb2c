"""Where the metrics of every process add up: this process's memory, or Redis shared by every process.

A store keeps, for each series part (:data:`fastmango.monitoring.metrics.Key`), the total since it began, the
deltas of each minute (kept ``MINUTE_RETENTION`` seconds) and of each hour (``HOUR_RETENTION``), for the windows
of the dashboard; the gauges of each live process; and one SQL text per slow statement shape.

Redis layout under ``settings.metrics_redis_prefix`` (``P``): hashes ``P:total``, ``P:m:<minute>`` and
``P:h:<hour>`` (field: the JSON ``[name, labels, part]``, value: a float added with ``HINCRBYFLOAT``, so several
processes' deltas sum), ``P:sql`` (shape -> SQL), ``P:gauges:<process>`` with a TTL and the sorted set
``P:processes`` (process -> last flush): a dead worker's gauges drop out when its key expires.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal, Protocol

from fastmango.core.errors import ProblemError
from fastmango.core.redis import redis_client
from fastmango.monitoring.metrics import Deltas, Key, merge

MINUTE_RETENTION = 25 * 3600 + 120
HOUR_RETENTION = 26 * 3600
RETRY_AFTER_SECONDS = 5
Resolution = Literal["minute", "hour"]
#: Per process: name -> value.
Gauges = dict[str, dict[str, float]]


class MetricsUnavailable(ProblemError):
    """503: the Redis that sums the metrics did not answer; ``/metrics`` and the dashboard retry later."""

    def __init__(self, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        from fastmango.core.problems import problem_type

        super().__init__(
            503,
            f"The metrics store (Redis) is unavailable right now; retry after {retry_after} seconds.",
            title="Service unavailable",
            type=problem_type("service-unavailable"),
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )


class MetricsStore(Protocol):
    """What the monitor needs of a store. Redis errors propagate (the monitor keeps the deltas and retries)."""

    async def add(
        self, batches: dict[int, Deltas], samples: dict[str, str], process: str, gauges: dict[str, float], ttl: int
    ) -> None:
        """Add each minute's deltas (``batches``: epoch minute -> deltas), remember SQL samples, publish gauges."""

    async def totals(self) -> Deltas:
        """Every series part summed since the store began."""

    async def gauges(self) -> Gauges:
        """The gauges of each live process."""

    async def buckets(self, start: int, end: int, resolution: Resolution) -> dict[int, Deltas]:
        """The deltas of each minute (or hour) from ``start`` to ``end`` (epoch minutes or hours, inclusive)."""

    async def samples(self, shapes: list[str]) -> dict[str, str]:
        """The SQL of each statement shape."""

    async def close(self) -> None: ...


class MemoryStore:
    """The metrics of this process alone (no ``REDIS_URL``)."""

    def __init__(self) -> None:
        self._totals: Deltas = {}
        self._minutes: dict[int, Deltas] = {}
        self._hours: dict[int, Deltas] = {}
        self._samples: dict[str, str] = {}
        self._gauges: dict[str, tuple[float, dict[str, float]]] = {}

    async def add(
        self, batches: dict[int, Deltas], samples: dict[str, str], process: str, gauges: dict[str, float], ttl: int
    ) -> None:
        for minute, deltas in batches.items():
            merge(self._totals, deltas)
            merge(self._minutes.setdefault(minute, {}), deltas)
            merge(self._hours.setdefault(minute // 60, {}), deltas)
        for shape, sql in samples.items():
            self._samples.setdefault(shape, sql)
        self._gauges[process] = (time.time() + ttl, dict(gauges))
        now_minute = int(time.time() // 60)
        for minute in [m for m in self._minutes if m < now_minute - MINUTE_RETENTION // 60]:
            del self._minutes[minute]
        for hour in [h for h in self._hours if h < now_minute // 60 - HOUR_RETENTION // 3600]:
            del self._hours[hour]

    async def totals(self) -> Deltas:
        return dict(self._totals)

    async def gauges(self) -> Gauges:
        now = time.time()
        return {process: values for process, (expires, values) in self._gauges.items() if expires > now}

    async def buckets(self, start: int, end: int, resolution: Resolution) -> dict[int, Deltas]:
        source = self._minutes if resolution == "minute" else self._hours
        return {at: dict(deltas) for at, deltas in source.items() if start <= at <= end}

    async def samples(self, shapes: list[str]) -> dict[str, str]:
        return {shape: self._samples[shape] for shape in shapes if shape in self._samples}

    async def close(self) -> None:
        pass


def encode(key: Key) -> str:
    name, labels, part = key
    return json.dumps([name, list(labels), part], separators=(",", ":"))


def decode(field: str) -> Key:
    name, labels, part = json.loads(field)
    return str(name), tuple(str(label) for label in labels), str(part)


def _decoded(raw: dict[str, str]) -> Deltas:
    return {decode(field): float(value) for field, value in raw.items()}


class RedisStore:
    """The metrics of every process that shares the Redis database (``REDIS_URL``)."""

    def __init__(self, url: str, prefix: str = "fastmango:metrics", socket_timeout: float = 2.0) -> None:
        self.prefix = prefix
        self._client: Any = redis_client(url, socket_timeout=socket_timeout)

    async def add(
        self, batches: dict[int, Deltas], samples: dict[str, str], process: str, gauges: dict[str, float], ttl: int
    ) -> None:
        prefix = self.prefix
        async with self._client.pipeline(transaction=True) as pipe:
            for minute, deltas in batches.items():
                minute_key, hour_key = f"{prefix}:m:{minute}", f"{prefix}:h:{minute // 60}"
                for key, value in deltas.items():
                    field = encode(key)
                    pipe.hincrbyfloat(f"{prefix}:total", field, value)
                    pipe.hincrbyfloat(minute_key, field, value)
                    pipe.hincrbyfloat(hour_key, field, value)
                pipe.expire(minute_key, MINUTE_RETENTION)
                pipe.expire(hour_key, HOUR_RETENTION)
            for shape, sql in samples.items():
                pipe.hsetnx(f"{prefix}:sql", shape, sql)
            gauge_key = f"{prefix}:gauges:{process}"
            pipe.delete(gauge_key)
            if gauges:
                pipe.hset(gauge_key, mapping=gauges)
                pipe.expire(gauge_key, ttl)
            now = time.time()
            pipe.zadd(f"{prefix}:processes", {process: now})
            pipe.zremrangebyscore(f"{prefix}:processes", "-inf", now - max(ttl, 3600))
            await pipe.execute()

    async def totals(self) -> Deltas:
        return _decoded(await self._client.hgetall(f"{self.prefix}:total"))

    async def gauges(self) -> Gauges:
        processes: list[str] = await self._client.zrangebyscore(f"{self.prefix}:processes", time.time() - 3600, "+inf")
        if not processes:
            return {}
        async with self._client.pipeline(transaction=False) as pipe:
            for process in processes:
                pipe.hgetall(f"{self.prefix}:gauges:{process}")
            found = await pipe.execute()
        return {
            process: {name: float(value) for name, value in values.items()}
            for process, values in zip(processes, found, strict=True)
            if values
        }

    async def buckets(self, start: int, end: int, resolution: Resolution) -> dict[int, Deltas]:
        letter = "m" if resolution == "minute" else "h"
        ats = list(range(start, end + 1))
        async with self._client.pipeline(transaction=False) as pipe:
            for at in ats:
                pipe.hgetall(f"{self.prefix}:{letter}:{at}")
            found = await pipe.execute()
        return {at: _decoded(raw) for at, raw in zip(ats, found, strict=True) if raw}

    async def samples(self, shapes: list[str]) -> dict[str, str]:
        if not shapes:
            return {}
        values = await self._client.hmget(f"{self.prefix}:sql", shapes)
        return {shape: value for shape, value in zip(shapes, values, strict=True) if value is not None}

    async def close(self) -> None:
        await self._client.aclose()
