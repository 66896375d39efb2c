"""Test settings for the blog: a fresh in-memory SQLite database for each test."""

import os

os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")
os.environ.setdefault("FASTMANGO_ENV", "test")

from collections.abc import AsyncIterator

import httpx
import pytest
from blog.app import app

from fastmango.db import create_all
from fastmango.testing import app_client


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The blog app, started, with its tables created."""
    async with app_client(app) as client:
        await create_all()
        yield client
