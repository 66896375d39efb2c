"""Auth errors: each one is an RFC 9457 problem response when it reaches HTTP."""

from __future__ import annotations

from typing import Any

from fastmango.core.errors import FastMangoError, ProblemError
from fastmango.core.problems import problem_type


class UnknownPermission(FastMangoError, LookupError):
    """A permission name that no model defines (``book.add`` exists once the ``book`` table is migrated)."""


class NotAuthenticated(ProblemError):
    """401: no credentials, or credentials that are expired, malformed, wrongly signed or revoked."""

    def __init__(self, detail: str = "Authentication required: send a Bearer access token.") -> None:
        super().__init__(
            401,
            detail,
            title="Not authenticated",
            type=problem_type("not-authenticated"),
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )


class PermissionDenied(ProblemError):
    """403: authenticated, but without the permission the operation needs."""

    def __init__(self, detail: str, *, permission: str | None = None) -> None:
        extensions: dict[str, Any] = {"permission": permission} if permission else {}
        super().__init__(
            403,
            detail,
            title="Permission denied",
            type=problem_type("permission-denied"),
            **extensions,
        )


class TooManyAttempts(ProblemError):
    """429: too many failed logins for a username or from an address."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            f"Too many failed login attempts; try again in {retry_after} seconds.",
            title="Too many attempts",
            type=problem_type("rate-limited"),
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )


class AuthUnavailable(ProblemError):
    """503: the credentials cannot be checked now (the database, which holds revocations, is unreachable).

    A token that cannot be checked is never let through unchecked.
    """

    def __init__(self, retry_after: int = 5) -> None:
        super().__init__(
            503,
            "Credentials cannot be checked right now; try again shortly.",
            title="Service unavailable",
            type=problem_type("service-unavailable"),
            headers={"Retry-After": str(retry_after)},
        )
