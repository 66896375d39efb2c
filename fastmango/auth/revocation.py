"""Revoked token ids: in the database by default, in Redis when ``REDIS_URL`` is set."""

from __future__ import annotations

import datetime
from typing import Any, Protocol

from fastmango.auth.models import RevokedToken, utcnow
from fastmango.core.redis import redis_client


class RevocationStore(Protocol):
    """Where revoked token ids are kept until the tokens would have expired anyway."""

    async def revoke(self, jti: str, expires_at: datetime.datetime) -> bool:
        """Refuse ``jti`` from now on; True when this call revoked it (False: it already was)."""
        ...

    async def is_revoked(self, jti: str) -> bool: ...

    async def close(self) -> None: ...


class DatabaseRevocationStore:
    """Revoked ids in the ``auth_revoked_token`` table; expired entries are pruned as new ones arrive."""

    async def revoke(self, jti: str, expires_at: datetime.datetime) -> bool:
        await RevokedToken.objects.filter(expires_at__lt=utcnow()).delete()
        _, created = await RevokedToken.objects.get_or_create(jti=jti, defaults={"expires_at": expires_at})
        return created

    async def is_revoked(self, jti: str) -> bool:
        return await RevokedToken.objects.filter(jti=jti).exists()

    async def close(self) -> None:
        return None


class RedisRevocationStore:
    """Revoked ids as Redis keys that expire with the token."""

    prefix = "fastmango:auth:revoked:"

    def __init__(self, url: str) -> None:
        self._redis: Any = redis_client(url)

    async def revoke(self, jti: str, expires_at: datetime.datetime) -> bool:
        ttl = max(int((expires_at - utcnow()).total_seconds()) + 1, 1)
        return bool(await self._redis.set(self.prefix + jti, "1", ex=ttl, nx=True))

    async def is_revoked(self, jti: str) -> bool:
        return bool(await self._redis.exists(self.prefix + jti))

    async def close(self) -> None:
        await self._redis.aclose()
