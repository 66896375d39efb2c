"""Auth fixtures: a real FastMango app on SQLite or PostgreSQL, driven over HTTP (httpx + ASGI)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import Depends, Request
from sqlalchemy import text
from sqlmodel import SQLModel

from fastmango import FastMango, Settings
from fastmango.auth import (
    CurrentUser,
    User,
    optional_user,
    require_permission,
    require_staff,
    require_superuser,
    sync_permissions,
)
from fastmango.auth.models import Group, GroupPermission, Permission, RevokedToken, UserGroup, UserPermission
from fastmango.testing import app_client
from tests.db.models import Book

AUTH_TABLES = [
    User.__tablename__,
    Group.__tablename__,
    Permission.__tablename__,
    UserGroup.__tablename__,
    UserPermission.__tablename__,
    GroupPermission.__tablename__,
    RevokedToken.__tablename__,
]
TABLES = [*AUTH_TABLES, "author", "book", "publisher", "tag", "booktag", "api_history"]
PASSWORD = "correct horse battery staple"


def make_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "secret_key": "s" * 64,  # long enough for every algorithm, HS512 included (RFC 7518 section 3.2)
        "password_argon2_time_cost": 1,
        "password_argon2_memory_kib": 1024,
    }
    return Settings(**(values | overrides))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/auth.sqlite3"  # a file: concurrent requests get connections of their own
    return str(request.getfixturevalue("postgres_database"))


AppFactory = Callable[..., FastMango]


@pytest.fixture
def app(database_url: str) -> FastMango:
    app = FastMango(settings=make_settings(database_url), configure_logging=False)
    add_test_routes(app)
    return app


def add_test_routes(app: FastMango) -> None:
    @app.get("/whoami")
    async def whoami(user: CurrentUser) -> dict[str, str]:
        return {"username": user.username}

    @app.get("/maybe")
    async def maybe(user: User | None = Depends(optional_user)) -> dict[str, str | None]:
        return {"username": user.username if user else None}

    @app.post("/books", dependencies=[Depends(require_permission("book.add"))])
    async def add_book() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/staff", dependencies=[Depends(require_staff)])
    async def staff() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/root", dependencies=[Depends(require_superuser)])
    async def root() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/state-user")
    async def state_user(request: Request) -> dict[str, Any]:
        user = request.state.user
        return {"authenticated": user.is_authenticated, "username": user.username}


@asynccontextmanager
async def started(app: FastMango) -> AsyncIterator[httpx.AsyncClient]:
    """The app started, with the auth and test model tables and their permissions; emptied afterwards."""
    async with app_client(app) as client:
        database = app.state.database
        async with database.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all, tables=[SQLModel.metadata.tables[t] for t in TABLES])
        await sync_permissions()
        try:
            yield client
        finally:
            if database.dialect == "postgresql":
                async with database.engine.begin() as conn:
                    await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def client(app: FastMango) -> AsyncIterator[httpx.AsyncClient]:
    async with started(app) as client:
        yield client


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/auth/token", data={"username": username, "password": password})


async def tokens_for(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await login(client, username, password)
    assert response.status_code == 200, response.text
    return dict(response.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


__all__ = ["PASSWORD", "Book", "bearer", "login", "tokens_for"]
