"""The authentication service: log in, verify a token, refresh, log out."""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from typing import Any

from fastmango.auth.errors import NotAuthenticated, TooManyAttempts
from fastmango.auth.models import User, utcnow
from fastmango.auth.passwords import verify_and_update
from fastmango.auth.ratelimit import LoginLimiter, MemoryLoginLimiter, RedisLoginLimiter
from fastmango.auth.revocation import DatabaseRevocationStore, RedisRevocationStore, RevocationStore
from fastmango.auth.tokens import TokenClaims, TokenPair, TokenService
from fastmango.core.settings import Settings

_BAD_CREDENTIALS = "Incorrect username or password."


class AnonymousUser:
    """The user of a request without credentials: not authenticated, no permissions."""

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
        self.revoked: RevocationStore
        self.limiter: LoginLimiter
        if settings.redis_url:
            self.revoked = RedisRevocationStore(settings.redis_url)
            self.limiter = RedisLoginLimiter(
                settings.redis_url, settings.auth_login_max_failures, settings.auth_login_window_seconds
            )
        else:
            self.revoked = DatabaseRevocationStore()
            self.limiter = MemoryLoginLimiter(settings.auth_login_max_failures, settings.auth_login_window_seconds)

    async def close(self) -> None:
        await self.revoked.close()
        await self.limiter.close()

    async def login(self, username: str, password: str, address: str | None) -> tuple[User, TokenPair]:
        """Check the credentials and issue tokens.

        Unknown users and wrong passwords get the same answer and take the same time (a dummy hash is
        verified). Failures are counted per username and per address; past the limit, ``TooManyAttempts``.
        """
        user_key = f"user:{username.lower()}"
        keys = [user_key] + ([f"addr:{address}"] if address else [])
        # Count the attempt before checking it, so that parallel guesses cannot all pass the limit.
        wait = await self.limiter.hit(keys)
        if wait is not None:
            raise TooManyAttempts(wait)
        user = None if "\x00" in username else await User.objects.filter(username=username).first()
        hashed = user.hashed_password if user is not None and user.hashed_password else None
        matches, new_hash = await asyncio.to_thread(verify_and_update, password, hashed)
        if user is None or not matches or not user.is_active:
            raise NotAuthenticated(_BAD_CREDENTIALS)
        await self.limiter.reset([user_key])
        await self.limiter.forgive(keys[1:])
        changes: dict[str, Any] = {"last_login": utcnow()}
        if new_hash is not None:
            changes["hashed_password"] = new_hash
        await User.objects.filter(id=user.id).update(**changes)
        for name, value in changes.items():
            setattr(user, name, value)
        assert user.id is not None
        return user, self.tokens.issue_pair(user.id, self.tokens.version_of(user))

    async def authenticate(self, token: str) -> Authenticated:
        """The user of a valid, unrevoked access token of an active account.

        Raises:
            NotAuthenticated: otherwise, saying why.
        """
        claims = self.tokens.verify(token, "access")
        return Authenticated(await self._active_user(claims), claims)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Exchange a refresh token for a new pair; the old refresh token is revoked (rotation)."""
        claims = self.tokens.verify(refresh_token, "refresh")
        user = await self._active_user(claims)
        if not await self.revoked.revoke(claims.jti, claims.expires_at):
            # Another request rotated this refresh token first: only one of them may win.
            raise NotAuthenticated("The token has been revoked; log in again.")
        assert user.id is not None
        return self.tokens.issue_pair(user.id, self.tokens.version_of(user))

    async def logout(self, access: TokenClaims, refresh_token: str | None = None) -> None:
        """Revoke the access token and, when given and issued to the same user, the refresh token."""
        await self.revoked.revoke(access.jti, access.expires_at)
        if refresh_token:
            claims = self.tokens.verify(refresh_token, "refresh")
            if claims.sub == access.sub:
                await self.revoked.revoke(claims.jti, claims.expires_at)

    async def _active_user(self, claims: TokenClaims) -> User:
        if await self.revoked.is_revoked(claims.jti):
            raise NotAuthenticated("The token has been revoked; log in again.")
        user = await User.objects.filter(id=claims.user_id).first()
        if user is None or not user.is_active:
            raise NotAuthenticated("The account is disabled or no longer exists.")
        if not hmac.compare_digest(claims.version, self.tokens.version_of(user)):
            raise NotAuthenticated("The token was issued before the password changed; log in again.")
        return user
