"""The authentication service: log in, verify a token, refresh, log out."""

from __future__ import annotations

import asyncio
import datetime
import hmac
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastmango.auth.addresses import ClientAddresses, limit_key
from fastmango.auth.errors import AuthUnavailable, NotAuthenticated, TooManyAttempts
from fastmango.auth.models import User, utcnow
from fastmango.auth.passwords import verify_and_update
from fastmango.auth.ratelimit import (
    Bucket,
    LoginLimiter,
    MemoryLoginLimiter,
    RedisLoginLimiter,
    bucket_key,
    normalize_username,
)
from fastmango.auth.revocation import RedisRevocationCache, RevocationStore, database_unavailable
from fastmango.auth.tokens import TokenClaims, TokenPair, TokenService
from fastmango.core.settings import Settings

_BAD_CREDENTIALS = "Incorrect username or password."
_REVOKED = "The token has been revoked; log in again."
#: Security events (refresh-token reuse...): never a token in them, only ids.
security_logger = logging.getLogger("fastmango.security")
T = TypeVar("T")


class AnonymousUser:
    """The user of a request without credentials: not authenticated, no permissions. It holds no state (one
    instance serves every anonymous request), so setting an attribute on it is an error."""

    __slots__ = ()
    id = None
    pk = None
    username = ""
    is_active = False
    is_staff = False
    is_superuser = False
    is_authenticated = False

    async def has_perm(self, codename: str) -> bool:
        return False

    async def get_all_permissions(self) -> set[str]:
        return set()

    def __repr__(self) -> str:
        return "AnonymousUser"


@dataclass
class Authenticated:
    """A verified access token and its user."""

    user: User
    claims: TokenClaims


class AuthBackend:
    """Everything auth needs at run time, built from settings by the auth plugin."""

    def __init__(self, settings: Settings) -> None:
        self.tokens = TokenService(settings)
        self.addresses = ClientAddresses(settings.forwarded_allow_ips)
        self.max_failures = settings.auth_login_max_failures
        self.max_failures_per_address = settings.auth_login_max_failures_per_address
        self.max_failures_per_user = settings.auth_login_max_failures_per_user
        self.limiter: LoginLimiter
        memory = MemoryLoginLimiter(settings.auth_login_window_seconds, settings.auth_login_max_tracked)
        if settings.redis_url:
            timeout = settings.redis_socket_timeout
            self.revoked = RevocationStore(
                RedisRevocationCache(
                    settings.redis_url,
                    not_revoked_seconds=settings.auth_revocation_cache_seconds,
                    socket_timeout=timeout,
                )
            )
            self.limiter = RedisLoginLimiter(
                settings.redis_url, settings.auth_login_window_seconds, memory, socket_timeout=timeout
            )
        else:
            self.revoked = RevocationStore()
            self.limiter = memory

    async def close(self) -> None:
        await self.revoked.close()
        await self.limiter.close()

    async def login(self, username: str, password: str, address: str | None) -> tuple[User, TokenPair]:
        """Check the credentials and issue tokens.

        Unknown users and wrong passwords get the same answer and take the same time (a dummy hash is
        verified). Failures are counted per username and address, per address and per username
        (:mod:`fastmango.auth.ratelimit`); past a limit, ``TooManyAttempts``.
        """
        name, place = normalize_username(username), limit_key(address) if address else "unknown"
        pair_key = bucket_key("user-address", name, place)
        shared = [bucket_key("address", place), bucket_key("user", name)]
        buckets = [
            Bucket(pair_key, self.max_failures),
            Bucket(shared[0], self.max_failures_per_address),
            Bucket(shared[1], self.max_failures_per_user),
        ]
        # Count the attempt before checking it, so that parallel guesses cannot all pass the limit.
        wait = await self.limiter.hit(buckets)
        if wait is not None:
            raise TooManyAttempts(wait)
        user = None if "\x00" in username else await _checked(User.objects.filter(username=username).first())
        hashed = user.hashed_password if user is not None and user.hashed_password else None
        matches, new_hash = await asyncio.to_thread(verify_and_update, password, hashed)
        if user is None or not matches or not user.is_active:
            raise NotAuthenticated(_BAD_CREDENTIALS)
        await self.limiter.reset([pair_key])
        await self.limiter.forgive(shared)
        changes: dict[str, Any] = {"last_login": utcnow()}
        if new_hash is not None:
            changes["hashed_password"] = new_hash
        await _checked(User.objects.filter(id=user.id).update(**changes))
        for name, value in changes.items():
            setattr(user, name, value)
        assert user.id is not None
        return user, self.tokens.issue_pair(user.id, self.tokens.version_of(user))

    async def authenticate(self, token: str) -> Authenticated:
        """The user of a valid, unrevoked access token of an active account.

        Raises:
            NotAuthenticated: otherwise, saying why.
            AuthUnavailable: the database cannot be reached, so the token cannot be checked (503).
        """
        claims = self.tokens.verify(token, "access")
        return Authenticated(await self._active_user(claims), claims)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Exchange a refresh token for a new pair; the old refresh token is revoked (rotation).

        A refresh token used a second time was stolen, or its owner's copy was: the whole session (every
        token refreshed from the same login, access tokens included) is revoked and a security event logged.
        """
        claims = self.tokens.verify(refresh_token, "refresh")
        try:
            user = await self._active_user(claims)
        except _Revoked:
            await self._revoke_session(claims, reused=True)
            raise
        # The database decides which of two parallel refreshes of one token wins; the loser is a reuse.
        if not await self.revoked.revoke(claims.jti, claims.expires_at):
            await self._revoke_session(claims, reused=True)
            raise NotAuthenticated(_REVOKED)
        assert user.id is not None
        return self.tokens.issue_pair(user.id, self.tokens.version_of(user), family=claims.family or claims.jti)

    async def logout(self, access: TokenClaims, refresh_token: str | None = None) -> None:
        """End the session of the access token: it, its refresh token and every token refreshed from them are
        revoked. A refresh token given, when issued to the same user, ends its own session too."""
        await self.revoked.revoke(access.jti, access.expires_at)
        await self._revoke_session(access)
        if refresh_token:
            claims = self.tokens.verify(refresh_token, "refresh")
            if claims.sub == access.sub:
                await self.revoked.revoke(claims.jti, claims.expires_at)
                await self._revoke_session(claims)

    async def _revoke_session(self, claims: TokenClaims, *, reused: bool = False) -> None:
        # Every token of the session expires at the latest one refresh lifetime from now (none is issued later).
        until = utcnow() + self.tokens.refresh_ttl + datetime.timedelta(seconds=1)
        if await self.revoked.revoke(claims.session, until) and reused:
            security_logger.warning(
                "refresh token reused: session revoked (user %s)",
                claims.sub,
                extra={"event": "refresh_token_reuse", "user_id": claims.user_id, "session": claims.session},
            )

    async def _active_user(self, claims: TokenClaims) -> User:
        if await self.revoked.any_revoked([claims.jti, claims.session], claims.expires_at):
            raise _Revoked(_REVOKED)
        user = await _checked(User.objects.filter(id=claims.user_id).first())
        if user is None or not user.is_active:
            raise NotAuthenticated("The account is disabled or no longer exists.")
        if not hmac.compare_digest(claims.version, self.tokens.version_of(user)):
            raise NotAuthenticated("The token was issued before the password changed; log in again.")
        return user


class _Revoked(NotAuthenticated):
    """The token, or its session, is revoked."""


async def _checked(query: Awaitable[T]) -> T:
    """``await query``, with the database being unreachable raised as :class:`AuthUnavailable` (503)."""
    try:
        return await query
    except Exception as exc:
        if database_unavailable(exc):
            raise AuthUnavailable() from exc
        raise
