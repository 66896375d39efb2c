"""Auth endpoints: ``POST /auth/token``, ``/auth/refresh``, ``/auth/logout`` and ``GET /auth/me``."""

from __future__ import annotations

import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status
from pydantic import BaseModel, Field

from fastmango.auth.backend import AuthBackend
from fastmango.auth.dependencies import CurrentUser
from fastmango.auth.errors import NotAuthenticated
from fastmango.auth.middleware import COOKIE_NAME
from fastmango.auth.tokens import TokenPair
from fastmango.core.problems import problem_responses

router = APIRouter(prefix="/auth", tags=["auth"])

_ERRORS = problem_responses(401, 429, 503)
#: ``auth_user.username`` holds 150 characters; a longer name is refused (422) before any work.
MAX_USERNAME_LENGTH = 150
#: Longer passwords are refused (422): hashing one costs time in proportion to its length.
MAX_PASSWORD_LENGTH = 4096
#: Far more than any token fastmango issues (about 300 characters).
MAX_TOKEN_LENGTH = 4096


class TokenResponse(BaseModel):
    """An access token (Bearer) and the refresh token that renews it."""

    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int


class RefreshRequest(BaseModel):
    refresh_token: str = Field(max_length=MAX_TOKEN_LENGTH)


class LogoutRequest(BaseModel):
    refresh_token: str | None = Field(None, max_length=MAX_TOKEN_LENGTH)


class Me(BaseModel):
    """The authenticated user, without the password hash."""

    id: int
    username: str
    email: str | None
    is_active: bool
    is_staff: bool
    is_superuser: bool
    date_joined: datetime.datetime
    last_login: datetime.datetime | None
    permissions: list[str]


def _backend(request: Request) -> AuthBackend:
    return request.app.state.auth  # type: ignore[no-any-return]


def _tokens(pair: TokenPair) -> TokenResponse:
    return TokenResponse(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


@router.post("/token", operation_id="auth_token", responses=_ERRORS)
async def token(
    request: Request,
    response: Response,
    username: Annotated[str, Form(max_length=MAX_USERNAME_LENGTH)],
    password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH, json_schema_extra={"format": "password"})],
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,  # OAuth2's, optional as in FastAPI's form
    cookie: bool = False,
) -> TokenResponse:
    """Log in with a username and password (OAuth2 password form). ``?cookie=true`` also sets the access
    token as an HttpOnly cookie for browser clients."""
    backend = _backend(request)
    _, pair = await backend.login(username, password, backend.addresses.of(request.scope))
    if cookie:
        settings = request.app.settings
        secure = settings.auth_cookie_secure if settings.auth_cookie_secure is not None else settings.env != "dev"
        response.set_cookie(
            COOKIE_NAME, pair.access_token, max_age=pair.expires_in, httponly=True, secure=secure, samesite="lax"
        )
    return _tokens(pair)


@router.post("/refresh", operation_id="auth_refresh", responses=_ERRORS)
async def refresh(request: Request, body: RefreshRequest) -> TokenResponse:
    """A new token pair for a refresh token. The refresh token used is revoked (rotation)."""
    return _tokens(await _backend(request).refresh(body.refresh_token))


@router.post("/logout", operation_id="auth_logout", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
async def logout(request: Request, user: CurrentUser, body: LogoutRequest | None = None) -> Response:
    """Revoke the access token used (and the refresh token, when given). Both are refused from now on."""
    claims = getattr(request.state, "auth_claims", None)
    if claims is None:
        raise NotAuthenticated()
    await _backend(request).logout(claims, body.refresh_token if body else None)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(COOKIE_NAME)
    return response


@router.get("/me", operation_id="auth_me", responses=_ERRORS)
async def me(user: CurrentUser) -> Me:
    """The authenticated user and their permissions."""
    assert user.id is not None
    return Me(
        id=user.id,
        username=user.username,
        email=user.email,
        is_active=user.is_active,
        is_staff=user.is_staff,
        is_superuser=user.is_superuser,
        date_joined=user.date_joined,
        last_login=user.last_login,
        permissions=sorted(await user.get_all_permissions()),
    )
