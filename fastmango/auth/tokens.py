"""JWT access and refresh tokens (pyjwt), signed with the secret key and a pinned algorithm."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from fastmango.auth.errors import NotAuthenticated
from fastmango.core.settings import Settings

TokenType = Literal["access", "refresh"]
_REQUIRED = ["exp", "iat", "jti", "sub", "type", "ver"]
#: ``auth_user.id`` is a 32-bit integer column; a larger ``sub`` names no user (and would not fit a query).
MAX_USER_ID = 2**31 - 1
_SUB = re.compile(r"[1-9][0-9]{0,9}")
_ID = re.compile(r"[0-9a-f]{32}")  # jti and fam: uuid4().hex
_VERSION = re.compile(r"[0-9a-f]{0,64}")


@dataclass(frozen=True)
class TokenClaims:
    """The verified claims of a token."""

    sub: str
    jti: str
    type: TokenType
    issued_at: datetime.datetime
    expires_at: datetime.datetime
    version: str = ""
    family: str = ""

    @property
    def user_id(self) -> int:
        """The user id the token was issued to."""
        return int(self.sub)

    @property
    def session(self) -> str:
        """The id under which the whole session (the login and every token refreshed from it) is revoked."""
        return f"family:{self.family or self.jti}"


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
        self,
        user_id: int,
        token_type: TokenType,
        now: datetime.datetime | None = None,
        version: str = "",
        family: str | None = None,
    ) -> tuple[str, TokenClaims]:
        """A signed token of ``token_type`` for ``user_id``, and its claims.

        ``family`` is the session the token belongs to (``fam``): a login starts one, a refresh keeps it.
        """
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
            family=family or uuid.uuid4().hex,
        )
        payload = {
            "sub": claims.sub,
            "jti": claims.jti,
            "type": token_type,
            "iat": int(now.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
            "ver": version,
            "fam": claims.family,
        }
        return jwt.encode(payload, self._key, algorithm=self.algorithm), claims

    def issue_pair(self, user_id: int, version: str = "", family: str | None = None) -> TokenPair:
        """A new access token and refresh token of one session (``family``; a new one when None)."""
        family = family or uuid.uuid4().hex
        access, access_claims = self.issue(user_id, "access", version=version, family=family)
        refresh, refresh_claims = self.issue(user_id, "refresh", version=version, family=family)
        return TokenPair(access, refresh, int(self.access_ttl.total_seconds()), access_claims, refresh_claims)

    def verify(self, token: str, expected_type: TokenType) -> TokenClaims:
        """The claims of a valid token of ``expected_type``.

        Raises:
            NotAuthenticated: the token is expired, malformed, wrongly signed, uses another algorithm
                (``none`` included), lacks a claim, is of the wrong type, or has a claim out of bounds (a
                lifetime longer than its type's, a ``sub`` that is not a user id): signed with the key or not.
        """
        try:
            payload: dict[str, Any] = jwt.decode(
                token, self._key, algorithms=[self.algorithm], options={"require": _REQUIRED}
            )
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("The token has expired; refresh it or log in again.") from None
        except (jwt.InvalidTokenError, ValueError):  # ValueError: text that is no UTF-8 (a lone surrogate)
            raise NotAuthenticated("The token is not valid.") from None
        if payload.get("type") != expected_type:
            raise NotAuthenticated(f"This is not {'an access' if expected_type == 'access' else 'a refresh'} token.")
        ttl = self.access_ttl if expected_type == "access" else self.refresh_ttl
        issued, expires = payload["iat"], payload["exp"]
        sub, jti, version, family = payload["sub"], payload["jti"], payload["ver"], payload.get("fam", "")
        if not (
            _whole_seconds(issued)
            and _whole_seconds(expires)
            and 0 <= expires - issued <= ttl.total_seconds()
            and isinstance(sub, str)
            and _SUB.fullmatch(sub)
            and int(sub) <= MAX_USER_ID
            and isinstance(jti, str)
            and _ID.fullmatch(jti)
            and isinstance(version, str)
            and _VERSION.fullmatch(version)
            and isinstance(family, str)
            and (family == "" or _ID.fullmatch(family))
        ):
            raise NotAuthenticated("The token is not valid.")
        return TokenClaims(
            sub=sub,
            jti=jti,
            type=expected_type,
            issued_at=datetime.datetime.fromtimestamp(issued, datetime.UTC),
            expires_at=datetime.datetime.fromtimestamp(expires, datetime.UTC),
            version=version,
            family=family,
        )


def _whole_seconds(value: Any) -> bool:
    """A JWT time fastmango issues: an integer (not a bool) from 1970 to 9999."""
    return type(value) is int and 0 <= value <= _MAX_TIMESTAMP


_MAX_TIMESTAMP = int(datetime.datetime(9999, 12, 31, tzinfo=datetime.UTC).timestamp())
