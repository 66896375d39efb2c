"""JWT access and refresh tokens (pyjwt), signed with the secret key and a pinned algorithm."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from fastmango.auth.errors import NotAuthenticated
from fastmango.core.settings import Settings

TokenType = Literal["access", "refresh"]
_REQUIRED = ["exp", "iat", "jti", "sub", "type", "ver"]


@dataclass(frozen=True)
class TokenClaims:
    """The verified claims of a token."""

    sub: str
    jti: str
    type: TokenType
    issued_at: datetime.datetime
    expires_at: datetime.datetime
    version: str = ""

    @property
    def user_id(self) -> int:
        """The user id the token was issued to."""
        return int(self.sub)


@dataclass(frozen=True)
class TokenPair:
    """An access token and the refresh token that renews it."""

    access_token: str
    refresh_token: str
    expires_in: int
    access_claims: TokenClaims
    refresh_claims: TokenClaims


class TokenService:
    """Issues and verifies tokens. Verification accepts only the configured algorithm and token type."""

    def __init__(self, settings: Settings) -> None:
        self._key = settings.secret_key.get_secret_value()
        self.algorithm = settings.auth_jwt_algorithm
        self.access_ttl = datetime.timedelta(minutes=settings.auth_access_token_minutes)
        self.refresh_ttl = datetime.timedelta(days=settings.auth_refresh_token_days)

    def version_of(self, user: Any) -> str:
        """A fingerprint of the account a token is issued to: its id, password hash and join time.

        Tokens carry it as ``ver``; changing the password, or a new account that reuses a deleted
        account's id, makes every older token fail verification. Keyed with the secret, so it reveals
        nothing about the hash.
        """
        joined = user.date_joined
        if joined is not None and joined.tzinfo is None:
            joined = joined.replace(tzinfo=datetime.UTC)
        stamp = int(joined.timestamp() * 1_000_000) if joined is not None else 0
        message = f"{user.id}:{user.hashed_password}:{stamp}".encode()
        return hmac.new(self._key.encode(), message, hashlib.sha256).hexdigest()[:20]

    def issue(
        self, user_id: int, token_type: TokenType, now: datetime.datetime | None = None, version: str = ""
    ) -> tuple[str, TokenClaims]:
        """A signed token of ``token_type`` for ``user_id``, and its claims."""
        # JWT times are whole seconds; truncate so that the claims returned equal those a verifier reads.
        now = (now or datetime.datetime.now(datetime.UTC)).replace(microsecond=0)
        ttl = self.access_ttl if token_type == "access" else self.refresh_ttl
        claims = TokenClaims(
            sub=str(user_id),
            jti=uuid.uuid4().hex,
            type=token_type,
            issued_at=now,
            expires_at=now + ttl,
            version=version,
        )
        payload = {
            "sub": claims.sub,
            "jti": claims.jti,
            "type": token_type,
            "iat": int(now.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
            "ver": version,
        }
        return jwt.encode(payload, self._key, algorithm=self.algorithm), claims

    def issue_pair(self, user_id: int, version: str = "") -> TokenPair:
        """A new access token and refresh token."""
        access, access_claims = self.issue(user_id, "access", version=version)
        refresh, refresh_claims = self.issue(user_id, "refresh", version=version)
        return TokenPair(access, refresh, int(self.access_ttl.total_seconds()), access_claims, refresh_claims)

    def verify(self, token: str, expected_type: TokenType) -> TokenClaims:
        """The claims of a valid token of ``expected_type``.

        Raises:
            NotAuthenticated: the token is expired, malformed, wrongly signed, uses another algorithm
                (``none`` included), lacks a claim or is of the wrong type.
        """
        try:
            payload: dict[str, Any] = jwt.decode(
                token, self._key, algorithms=[self.algorithm], options={"require": _REQUIRED}
            )
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("The token has expired; refresh it or log in again.") from None
        except jwt.InvalidTokenError:
            raise NotAuthenticated("The token is not valid.") from None
        if payload.get("type") != expected_type:
            raise NotAuthenticated(f"This is not {'an access' if expected_type == 'access' else 'a refresh'} token.")
        try:
            return TokenClaims(
                sub=str(int(payload["sub"])),
                jti=str(payload["jti"]),
                type=expected_type,
                issued_at=datetime.datetime.fromtimestamp(int(payload["iat"]), datetime.UTC),
                expires_at=datetime.datetime.fromtimestamp(int(payload["exp"]), datetime.UTC),
                version=str(payload["ver"]),
            )
        except (TypeError, ValueError):
            raise NotAuthenticated("The token is not valid.") from None
