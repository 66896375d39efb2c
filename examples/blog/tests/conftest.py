"""Test fixtures for the blog. fastmango's pytest plugin runs the tests on a test database of their own,
migrated once per session and emptied after each test; the development database is never touched."""

from collections.abc import AsyncIterator

import httpx
import pytest
from blog.app import app

from fastmango.testing import app_client


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The blog app, started."""
    async with app_client(app) as client:
        yield client
