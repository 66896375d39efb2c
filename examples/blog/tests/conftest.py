"""Test settings for the blog: a fresh in-memory SQLite database for each test."""

import os

os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")
os.environ.setdefault("FASTMANGO_ENV", "test")
os.environ.setdefault("FASTMANGO_PASSWORD_ARGON2_TIME_COST", "1")
os.environ.setdefault("FASTMANGO_PASSWORD_ARGON2_MEMORY_KIB", "1024")

from collections.abc import AsyncIterator

import httpx
import pytest
from blog.app import app

from fastmango.auth import sync_permissions
from fastmango.db import create_all
from fastmango.testing import app_client


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The blog app, started, with its tables created."""
    async with app_client(app) as client:
        await create_all()
        await sync_permissions()
        yield client
