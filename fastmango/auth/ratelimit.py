"""Login rate limiting: failed attempts counted per username and per client address over a window."""

from __future__ import annotations

import time
from typing import Any, Protocol

from fastmango.core.redis import redis_client


class LoginLimiter(Protocol):
    """Counts failed logins; a key over the limit is refused until its window ends."""

    async def retry_after(self, keys: list[str]) -> int | None: ...

    async def record_failure(self, keys: list[str]) -> None: ...

    async def reset(self, keys: list[str]) -> None: ...

    async def close(self) -> None: ...


class MemoryLoginLimiter:
    """Per-process counters (one app process; use Redis to share limits between processes)."""

    def __init__(self, max_failures: int, window_seconds: int) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self._failures: dict[str, tuple[int, float]] = {}

    async def retry_after(self, keys: list[str]) -> int | None:
        now = time.monotonic()
        waits = []
        for key in keys:
            count, started = self._failures.get(key, (0, now))
            if now - started >= self.window:
                self._failures.pop(key, None)
            elif count >= self.max_failures:
                waits.append(int(self.window - (now - started)) + 1)
        return max(waits) if waits else None

    async def record_failure(self, keys: list[str]) -> None:
        now = time.monotonic()
        for key in keys:
            count, started = self._failures.get(key, (0, now))
            if now - started >= self.window:
                count, started = 0, now
            self._failures[key] = (count + 1, started)

    async def reset(self, keys: list[str]) -> None:
        for key in keys:
            self._failures.pop(key, None)

    async def close(self) -> None:
        return None


class RedisLoginLimiter:
    """Counters in Redis, shared by every app process."""

    prefix = "fastmango:auth:login-failures:"

    def __init__(self, url: str, max_failures: int, window_seconds: int) -> None:
        self._redis: Any = redis_client(url)
        self.max_failures = max_failures
        self.window = window_seconds

    async def retry_after(self, keys: list[str]) -> int | None:
        waits = []
        for key in keys:
            count = await self._redis.get(self.prefix + key)
            if count is not None and int(count) >= self.max_failures:
                waits.append(max(int(await self._redis.ttl(self.prefix + key)), 1))
        return max(waits) if waits else None

    async def record_failure(self, keys: list[str]) -> None:
        for key in keys:
            name = self.prefix + key
            if await self._redis.incr(name) == 1:
                await self._redis.expire(name, self.window)

    async def reset(self, keys: list[str]) -> None:
        if keys:
            await self._redis.delete(*[self.prefix + key for key in keys])

    async def close(self) -> None:
        await self._redis.aclose()
