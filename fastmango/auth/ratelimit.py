"""Login rate limiting: attempts counted per username and per client address over a window.

An attempt is counted before the password is checked, so parallel guesses cannot all slip under the
limit; a successful login clears the username's count and gives its address one attempt back.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from fastmango.core.redis import redis_client


class LoginLimiter(Protocol):
    """Counts login attempts; a key over the limit is refused until its window ends."""

    async def hit(self, keys: list[str]) -> int | None:
        """Count an attempt for each key; the seconds to wait when any key is now over the limit."""
        ...

    async def reset(self, keys: list[str]) -> None: ...

    async def forgive(self, keys: list[str]) -> None: ...

    async def close(self) -> None: ...


class MemoryLoginLimiter:
    """Per-process counters (one app process; use Redis to share limits between processes)."""

    PRUNE_EVERY = 1000

    def __init__(self, max_failures: int, window_seconds: int) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self._counts: dict[str, tuple[int, float]] = {}
        self._hits = 0

    async def hit(self, keys: list[str]) -> int | None:
        now = time.monotonic()
        self._hits += 1
        if self._hits % self.PRUNE_EVERY == 0:
            self._counts = {k: v for k, v in self._counts.items() if now - v[1] < self.window}
        waits = []
        for key in keys:
            count, started = self._counts.get(key, (0, now))
            if now - started >= self.window:
                count, started = 0, now
            self._counts[key] = (count + 1, started)
            if count + 1 > self.max_failures:
                waits.append(int(self.window - (now - started)) + 1)
        return max(waits) if waits else None

    async def reset(self, keys: list[str]) -> None:
        for key in keys:
            self._counts.pop(key, None)

    async def forgive(self, keys: list[str]) -> None:
        for key in keys:
            if key in self._counts:
                count, started = self._counts[key]
                self._counts[key] = (max(count - 1, 0), started)

    async def close(self) -> None:
        return None


class RedisLoginLimiter:
    """Counters in Redis, shared by every app process (INCR and EXPIRE NX in one round trip)."""

    prefix = "fastmango:auth:login-attempts:"

    def __init__(self, url: str, max_failures: int, window_seconds: int) -> None:
        self._redis: Any = redis_client(url)
        self.max_failures = max_failures
        self.window = window_seconds

    async def hit(self, keys: list[str]) -> int | None:
        pipe = self._redis.pipeline(transaction=True)
        for key in keys:
            pipe.incr(self.prefix + key)
            pipe.expire(self.prefix + key, self.window, nx=True)
            pipe.ttl(self.prefix + key)
        results = await pipe.execute()
        waits = [
            max(int(results[index + 2]), 1)
            for index in range(0, len(results), 3)
            if int(results[index]) > self.max_failures
        ]
        return max(waits) if waits else None

    async def reset(self, keys: list[str]) -> None:
        if keys:
            await self._redis.delete(*[self.prefix + key for key in keys])

    async def forgive(self, keys: list[str]) -> None:
        for key in keys:
            if await self._redis.decr(self.prefix + key) < 0:
                await self._redis.delete(self.prefix + key)

    async def close(self) -> None:
        await self._redis.aclose()
