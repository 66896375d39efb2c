"""FastAPI dependencies: ``CurrentUser``, ``optional_user``, ``require_permission``, ``require_staff``..."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from fastmango.auth.backend import AuthBackend
from fastmango.auth.checks import first_missing
from fastmango.auth.errors import NotAuthenticated, PermissionDenied
from fastmango.auth.models import User

# Declares the scheme in OpenAPI so that the "Authorize" button of /docs logs in through /auth/token.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


async def optional_user(request: Request, token: str | None = Depends(oauth2_scheme)) -> User | None:
    """The authenticated user, or None without credentials. Invalid credentials are a 401."""
    state = request.state
    if hasattr(state, "auth_error"):  # resolved by AuthenticationMiddleware
        if state.auth_error is not None:
            raise state.auth_error
        user = state.user
        return user if isinstance(user, User) else None
    if token is None:
        return None
    backend: AuthBackend = request.app.state.auth
    authenticated = await backend.authenticate(token)
    request.state.user, request.state.auth_claims = authenticated.user, authenticated.claims
    return authenticated.user


async def current_user(user: User | None = Depends(optional_user)) -> User:
    """The authenticated user; 401 with ``WWW-Authenticate`` when there is none."""
    if user is None:
        raise NotAuthenticated()
    return user


CurrentUser = Annotated[User, Depends(current_user)]
"""A route parameter typed ``user: CurrentUser`` receives the authenticated user (401 otherwise)."""


#: The attribute ``require_permission`` sets on its dependency: the codenames it needs. Route tools read it to
#: offer an endpoint only to users who hold them.
PERMISSIONS_ATTRIBUTE = "__fastmango_permissions__"


def require_permission(*codenames: str) -> Callable[..., Awaitable[User]]:
    """A dependency that passes the user on when they have every permission named (403 naming the first
    missing one, 401 when anonymous): ``Depends(require_permission("book.add"))``.

    The dependency carries its codenames (:func:`required_permissions`), so that a route tool of the endpoint is
    offered only to users who hold them.
    """

    async def dependency(user: User = Depends(current_user)) -> User:
        missing = await first_missing(user, *codenames)
        if missing is not None:
            raise PermissionDenied(f"Missing permission {missing}.", permission=missing)
        return user

    dependency.__name__ = f"require_permission_{'_'.join(c.replace('.', '_') for c in codenames)}"
    setattr(dependency, PERMISSIONS_ATTRIBUTE, tuple(codenames))
    return dependency


def required_permissions(call: Any) -> tuple[str, ...]:
    """The codenames a dependency made by :func:`require_permission` needs (empty for any other callable)."""
    found = getattr(call, PERMISSIONS_ATTRIBUTE, ())
    return tuple(found) if isinstance(found, tuple) else ()


async def require_staff(user: User = Depends(current_user)) -> User:
    """The user, when staff (403 otherwise)."""
    if not (user.is_staff or user.is_superuser):
        raise PermissionDenied("Staff only.")
    return user


async def require_superuser(user: User = Depends(current_user)) -> User:
    """The user, when a superuser (403 otherwise)."""
    if not user.is_superuser:
        raise PermissionDenied("Superusers only.")
    return user
