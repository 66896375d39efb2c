"""Auth endpoints: ``POST /auth/token``, ``/auth/refresh``, ``/auth/logout`` and ``GET /auth/me``."""

from __future__ import annotations

import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from fastmango.auth.backend import AuthBackend
from fastmango.auth.dependencies import CurrentUser
from fastmango.auth.errors import NotAuthenticated
from fastmango.auth.middleware import COOKIE_NAME
from fastmango.auth.tokens import TokenPair
from fastmango.core.problems import problem_responses

router = APIRouter(prefix="/auth", tags=["auth"])

_ERRORS = problem_responses(401, 429)


class TokenResponse(BaseModel):
    """An access token (Bearer) and the refresh token that renews it."""

    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int


class RefreshRequest(BaseModel):
    refresh_token: str


class LogoutRequest(BaseModel):
    refresh_token: str | None = None


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
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    cookie: bool = False,
) -> TokenResponse:
    """Log in with a username and password (OAuth2 password form). ``?cookie=true`` also sets the access
    token as an HttpOnly cookie for browser clients."""
    address = request.client.host if request.client else None
    _, pair = await _backend(request).login(form.username, form.password, address)
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
