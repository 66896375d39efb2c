"""Login rate limiting: failed attempts counted in buckets over a window (docs/auth.md: rate limiting).

Each login attempt counts in three buckets, each with its own ceiling: the username from this client address
(``auth_login_max_failures``), the address for every username (``auth_login_max_failures_per_address``,
higher, so that people behind one NAT are not locked out together) and the username from every address
(``auth_login_max_failures_per_user``, for guessing spread over many addresses). One noisy client therefore
locks a username out only for itself, never for the username's owner elsewhere.

An attempt is counted before the password is checked, so parallel guesses cannot all slip under the limit;
a successful login clears its username-and-address bucket and gives the other two one attempt back.

State keyed by what clients send stays bounded: bucket keys are fixed-length hashes of the normalised
username and address, an attempt refused because a bucket is full stores nothing, and the in-process
limiter keeps at most ``auth_login_max_tracked`` counters.
"""

from __future__ import annotations

import hashlib
import logging
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fastmango.core.redis import RedisOutage, redis_client, redis_errors

logger = logging.getLogger("fastmango.auth")


@dataclass(frozen=True)
class Bucket:
    """A counter (``key``, see :func:`bucket_key`) and how many failed attempts it allows in a window."""

    key: str
    limit: int


def normalize_username(username: str) -> str:
    """The form a username is counted under: NFKC, case-folded (``Root`` and ``ROOT`` share a bucket)."""
    return unicodedata.normalize("NFKC", username).casefold()


def bucket_key(kind: str, *parts: str) -> str:
    """``kind:`` and a fixed-length hash of ``parts``: what a client sends never grows a key."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{kind}:{digest}"


class LoginLimiter(Protocol):
    """Counts failed login attempts; a full bucket refuses attempts until its window ends."""

    async def hit(self, buckets: Sequence[Bucket]) -> int | None:
        """Count an attempt in each bucket; when one is already full, count nothing and return the seconds to wait."""
        ...

    async def reset(self, keys: Sequence[str]) -> None: ...

    async def forgive(self, keys: Sequence[str]) -> None: ...

    async def close(self) -> None: ...


class MemoryLoginLimiter:
    """Per-process counters (one app process; use Redis to share limits between processes).

    At most ``max_entries`` counters: when full, expired ones are dropped, then the oldest tenth.
    """

    def __init__(self, window_seconds: int, max_entries: int = 100_000) -> None:
        self.window = window_seconds
        self.max_entries = max_entries
        self._counts: dict[str, tuple[int, float]] = {}

    def __len__(self) -> int:
        return len(self._counts)

    async def hit(self, buckets: Sequence[Bucket]) -> int | None:
        now = time.monotonic()
        waits = []
        for bucket in buckets:
            count, started = self._counts.get(bucket.key, (0, now))
            if count >= bucket.limit and now - started < self.window:
                waits.append(int(self.window - (now - started)) + 1)
        if waits:
            return max(waits)
        for bucket in buckets:
            entry = self._counts.get(bucket.key)
            if entry is not None and now - entry[1] < self.window:
                self._counts[bucket.key] = (entry[0] + 1, entry[1])
            else:
                self._counts.pop(bucket.key, None)  # re-inserted last: the dict stays ordered by window start
                self._make_room(now)
                self._counts[bucket.key] = (1, now)
        return None

    def _make_room(self, now: float) -> None:
        if len(self._counts) < self.max_entries:
            return
        self._counts = {k: v for k, v in self._counts.items() if now - v[1] < self.window}
        if len(self._counts) >= self.max_entries:
            for key in list(self._counts)[: self.max_entries // 10 + 1]:
                del self._counts[key]

    async def reset(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._counts.pop(key, None)

    async def forgive(self, keys: Sequence[str]) -> None:
        for key in keys:
            if key in self._counts:
                count, started = self._counts[key]
                self._counts[key] = (max(count - 1, 0), started)

    async def close(self) -> None:
        return None


# Refuses without counting when a bucket is full; otherwise counts in every bucket. Atomic, one round trip.
# KEYS: the buckets; ARGV[1]: the window; ARGV[1 + i]: the limit of KEYS[i]. Returns the seconds to wait, or 0.
_HIT = """
local wait = 0
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i + 1]) then
    wait = math.max(wait, redis.call('TTL', key), 1)
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 or redis.call('TTL', key) < 0 then
    redis.call('EXPIRE', key, ARGV[1])
  end
end
return 0
"""


class RedisLoginLimiter:
    """Counters in Redis, shared by every app process; while Redis is unreachable, ``fallback`` counts."""

    prefix = "fastmango:auth:login-attempts:"

    def __init__(
        self, url: str, window_seconds: int, fallback: MemoryLoginLimiter, *, socket_timeout: float = 2.0
    ) -> None:
        self._redis: Any = redis_client(url, socket_timeout=socket_timeout)
        self._hit: Any = self._redis.register_script(_HIT)
        self.window = window_seconds
        self.fallback = fallback
        self.outage = RedisOutage("login attempts are counted per process until it is back")
        self._errors = redis_errors()

    async def hit(self, buckets: Sequence[Bucket]) -> int | None:
        if not self.outage.down():
            keys = [self.prefix + bucket.key for bucket in buckets]
            try:
                wait = int(await self._hit(keys=keys, args=[self.window, *(b.limit for b in buckets)]))
            except self._errors as exc:
                self.outage.failed(exc)
            else:
                self.outage.succeeded()
                return wait or None
        return await self.fallback.hit(buckets)

    async def reset(self, keys: Sequence[str]) -> None:
        await self.fallback.reset(keys)
        if keys and not self.outage.down():
            try:
                await self._redis.delete(*[self.prefix + key for key in keys])
            except self._errors as exc:
                self.outage.failed(exc)

    async def forgive(self, keys: Sequence[str]) -> None:
        await self.fallback.forgive(keys)
        if not keys or self.outage.down():
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            for key in keys:
                pipe.decr(self.prefix + key)
            counts = await pipe.execute()
            below = [self.prefix + key for key, count in zip(keys, counts, strict=True) if int(count) <= 0]
            if below:
                await self._redis.delete(*below)
        except self._errors as exc:
            self.outage.failed(exc)

    async def close(self) -> None:
        await self._redis.aclose()
