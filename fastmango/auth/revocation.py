"""Revoked token ids and revoked sessions: durable in the database, cached in Redis when ``REDIS_URL`` is set.

The ``auth_revoked_token`` table is the truth: a revocation is written there first, so a Redis restart that
lost its data never lets a revoked token back in. Redis only spares the database a query: it remembers
revocations until the token would have expired anyway, and that a token is *not* revoked for
``auth_revocation_cache_seconds`` (a revocation overwrites that at once). When Redis is down the database
answers; when neither can answer, :class:`AuthUnavailable` (503): a token is never let through unchecked.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exc as sa_exc

from fastmango.auth.errors import AuthUnavailable
from fastmango.auth.models import RevokedToken, utcnow
from fastmango.core.redis import RedisOutage, redis_client, redis_errors
from fastmango.db import errors as db_errors


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc``, or an error it was raised from, says the database cannot be reached (refused, dropped
    or timed out), not that a query was wrong."""
    # The db layer's own verdict where it gives one (fastmango.db.errors.DatabaseUnavailable, PostgreSQL).
    verdict = getattr(db_errors, "DatabaseUnavailable", None)
    seen: BaseException | None = exc
    while seen is not None:
        if verdict is not None and isinstance(seen, verdict):
            return True
        if isinstance(seen, OSError | TimeoutError | sa_exc.TimeoutError):  # sa's: no pooled connection to give
            return True
        if isinstance(seen, sa_exc.DBAPIError) and (
            seen.connection_invalidated or isinstance(seen, sa_exc.InterfaceError)
        ):
            return True
        seen = seen.__cause__
    return False


class RedisRevocationCache:
    """Redis keys ``fastmango:auth:revoked:<id>``: ``1`` revoked (until the token expires), ``0`` not (briefly)."""

    prefix = "fastmango:auth:revoked:"

    def __init__(self, url: str, *, not_revoked_seconds: int = 30, socket_timeout: float = 2.0) -> None:
        self._redis: Any = redis_client(url, socket_timeout=socket_timeout)
        self.not_revoked_seconds = not_revoked_seconds
        self.outage = RedisOutage("revocations are checked in the database until it is back")
        self._errors = redis_errors()

    async def lookup(self, ids: Sequence[str]) -> list[bool | None]:
        """For each id: True revoked, False not revoked, None unknown (not cached, or Redis unreachable)."""
        if self.outage.down():
            return [None] * len(ids)
        try:
            values = await self._redis.mget([self.prefix + i for i in ids])
        except self._errors as exc:
            self.outage.failed(exc)
            return [None] * len(ids)
        self.outage.succeeded()
        return [None if value is None else value == "1" for value in values]

    async def store(self, revoked: Sequence[str], not_revoked: Sequence[str], expires_at: datetime.datetime) -> None:
        """Remember ``revoked`` until ``expires_at`` (overwriting), ``not_revoked`` briefly (never overwriting)."""
        if self.outage.down() or not (revoked or (not_revoked and self.not_revoked_seconds)):
            return
        ttl = max(int((expires_at - utcnow()).total_seconds()) + 1, 1)
        try:
            pipe = self._redis.pipeline(transaction=False)
            for jti in revoked:
                pipe.set(self.prefix + jti, "1", ex=ttl)
            if self.not_revoked_seconds:
                # NX: a revocation written meanwhile by another process must not be overwritten by this older answer.
                for jti in not_revoked:
                    pipe.set(self.prefix + jti, "0", ex=min(self.not_revoked_seconds, ttl), nx=True)
            await pipe.execute()
        except self._errors as exc:
            self.outage.failed(exc)

    async def close(self) -> None:
        await self._redis.aclose()


class RevocationStore:
    """Revoked ids in the ``auth_revoked_token`` table (expired entries pruned as new ones arrive), with an
    optional Redis cache in front."""

    def __init__(self, cache: RedisRevocationCache | None = None) -> None:
        self.cache = cache

    async def revoke(self, jti: str, expires_at: datetime.datetime) -> bool:
        """Refuse ``jti`` from now until ``expires_at``; True when this call revoked it (False: it already was).

        Raises:
            AuthUnavailable: the database is unreachable (nothing was revoked).
        """
        try:
            await RevokedToken.objects.filter(expires_at__lt=utcnow()).delete()
            _, created = await RevokedToken.objects.get_or_create(jti=jti, defaults={"expires_at": expires_at})
        except Exception as exc:
            if database_unavailable(exc):
                raise AuthUnavailable() from exc
            raise
        if self.cache is not None:
            await self.cache.store([jti], [], expires_at)
        return created

    async def any_revoked(self, ids: Sequence[str], expires_at: datetime.datetime) -> bool:
        """Whether any of ``ids`` (a token's id and its session's) is revoked; ``expires_at``: the token's expiry.

        Raises:
            AuthUnavailable: neither Redis nor the database can say.
        """
        if self.cache is not None:
            cached = await self.cache.lookup(ids)
            if any(cached):
                return True
            if all(value is False for value in cached):
                return False
        try:
            found = set(await RevokedToken.objects.filter(jti__in=list(ids)).values_list("jti", flat=True))
        except Exception as exc:
            if database_unavailable(exc):
                raise AuthUnavailable() from exc
            raise
        if self.cache is not None:
            await self.cache.store([i for i in ids if i in found], [i for i in ids if i not in found], expires_at)
        return bool(found)

    async def close(self) -> None:
        if self.cache is not None:
            await self.cache.close()
