"""The Redis adapter: the only module that imports ``redis``, and only when a Redis URL is configured."""

from __future__ import annotations

from typing import Any

from fastmango.core.lazy import require


def redis_client(url: str) -> Any:
    """A ``redis.asyncio.Redis`` client for ``url`` (decoded responses). Close it with ``await client.aclose()``."""
    redis_asyncio = require("redis.asyncio", extra="redis")
    return redis_asyncio.from_url(url, decode_responses=True)
