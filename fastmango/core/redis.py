"""The Redis adapter: the only module that imports ``redis``, and only when a Redis URL is configured."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastmango.core.lazy import require

logger = logging.getLogger("fastmango.redis")

#: Seconds a connect or a command may take (``settings.redis_socket_timeout``): a hung Redis fails fast.
DEFAULT_SOCKET_TIMEOUT = 2.0


def redis_client(url: str, *, socket_timeout: float = DEFAULT_SOCKET_TIMEOUT) -> Any:
    """A ``redis.asyncio.Redis`` client for ``url`` (decoded responses). Close it with ``await client.aclose()``.

    Connecting and each command give up after ``socket_timeout`` seconds with an error of :func:`redis_errors`.
    """
    redis_asyncio = require("redis.asyncio", extra="redis")
    return redis_asyncio.from_url(
        url, decode_responses=True, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
    )


def redis_errors() -> tuple[type[BaseException], ...]:
    """The errors a Redis call raises when Redis is down, hung or refuses the command (``except redis_errors():``)."""
    exceptions = require("redis.exceptions", extra="redis")
    return (exceptions.RedisError, OSError, TimeoutError)


class RedisOutage:
    """Remembers that Redis failed, so that for ``retry_seconds`` callers skip it instead of each waiting for it.

    ``if outage.down(): <degraded path>``; around a call, ``outage.failed(exc)`` / ``outage.succeeded()``.
    The first failure and the recovery are logged once (as a warning and an info line naming ``what``).
    """

    def __init__(self, what: str, retry_seconds: float = 5.0) -> None:
        self.what = what
        self.retry_seconds = retry_seconds
        self._until = 0.0
        self._failing = False

    def down(self) -> bool:
        """Whether Redis failed less than ``retry_seconds`` ago."""
        return self._failing and time.monotonic() < self._until

    def failed(self, exc: BaseException) -> None:
        if not self._failing:
            logger.warning("Redis is unavailable (%s): %s; %s", type(exc).__name__, exc, self.what)
        self._failing = True
        self._until = time.monotonic() + self.retry_seconds

    def succeeded(self) -> None:
        if self._failing:
            logger.info("Redis is reachable again (%s)", self.what)
        self._failing = False
