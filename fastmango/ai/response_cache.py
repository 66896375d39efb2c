"""The AI response cache: model responses and tool results reused for an identical request.

A model response is keyed on the model id, the model settings, the instructions, the message history (without
timestamps and run ids), the tool definitions and the output schema, and the user id unless the agent is
``shared``. A tool result is keyed on the tool, its arguments and the user id. Errors are never stored.

Backends: in memory (default, per process) or Redis when ``REDIS_URL`` is set (``redis`` is imported only then).
The cache only saves time: while Redis is down or hung, requests go on without it (a lookup is a miss, a store
is skipped), each Redis command waits at most ``redis_socket_timeout``, and after a failure Redis is left alone
for a few seconds instead of every request waiting for it; the outage and the recovery are logged once each.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

PREFIX = "fastmango:ai:cache:"
#: Seconds a Redis command of the cache may take when the settings do not say (``redis_socket_timeout``).
DEFAULT_SOCKET_TIMEOUT = 2.0

#: Fields that differ between two identical requests (when, which run, what an earlier response cost: a cached one
#: carries no usage) and do not change the answer.
_VOLATILE = frozenset(
    {"timestamp", "run_id", "conversation_id", "provider_response_id", "provider_details", "id", "usage"}
)


class MemoryCacheStore:
    """A dict with expiry times; keys are namespaced by agent so one agent can be cleared."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, str]] = {}

    async def get(self, key: str) -> str | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] < time.monotonic():
            self._items.pop(key, None)
            return None
        return item[1]

    async def set(self, key: str, value: str, ttl: float) -> None:
        self._items[key] = (time.monotonic() + ttl, value)

    async def aclose(self) -> None:
        """Nothing to release: the entries stay for the process's next app."""

    async def clear(self, prefix: str = PREFIX) -> int:
        keys = [key for key in self._items if key.startswith(prefix)]
        for key in keys:
            del self._items[key]
        return len(keys)


class RedisCacheStore:
    """Entries as Redis strings with an expiry (``SET key value PX ttl``).

    ``get`` and ``set`` never fail because of Redis: while it is unavailable a lookup is a miss and a store is
    skipped (``outage`` remembers the failure, so the next requests do not wait for Redis again at once).
    ``clear`` is an operator's command and does raise.
    """

    def __init__(self, url: str, socket_timeout: float = DEFAULT_SOCKET_TIMEOUT) -> None:
        from fastmango.core.redis import RedisOutage

        self.url = url
        self.socket_timeout = socket_timeout
        self.outage = RedisOutage("the AI response and tool caches are skipped until it is back")
        self._client: Any = None
        self._loop: Any = None

    def _redis(self) -> Any:
        import asyncio

        from fastmango.core.redis import redis_client

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:  # a client belongs to the loop it was made in
            self._client, self._loop = redis_client(self.url, socket_timeout=self.socket_timeout), loop
        return self._client

    async def get(self, key: str) -> str | None:
        from fastmango.core.redis import redis_errors

        if self.outage.down():
            return None
        try:
            value: str | None = await self._redis().get(key)
        except redis_errors() as exc:
            self.outage.failed(exc)
            return None
        self.outage.succeeded()
        return value

    async def set(self, key: str, value: str, ttl: float) -> None:
        from fastmango.core.redis import redis_errors

        if self.outage.down():
            return
        try:
            await self._redis().set(key, value, px=max(1, int(ttl * 1000)))
        except redis_errors() as exc:
            self.outage.failed(exc)
        else:
            self.outage.succeeded()

    async def clear(self, prefix: str = PREFIX) -> int:
        client = self._redis()
        count = 0
        async for key in client.scan_iter(match=prefix + "*", count=500):
            count += await client.delete(key)
        return count

    async def aclose(self) -> None:
        """Close the connections of this event loop's client (the next use opens new ones)."""
        import asyncio

        client, loop = self._client, self._loop
        self._client = self._loop = None
        if client is not None and loop is asyncio.get_running_loop():
            await client.aclose()


_stores: dict[str | None, Any] = {}


def cache_store(settings: Any) -> Any:
    """The cache backend of ``settings``: Redis when ``redis_url`` is set, else the process's memory store."""
    url = getattr(settings, "redis_url", None)
    if url not in _stores:
        timeout = getattr(settings, "redis_socket_timeout", None) or DEFAULT_SOCKET_TIMEOUT
        _stores[url] = RedisCacheStore(url, socket_timeout=timeout) if url else MemoryCacheStore()
    return _stores[url]


async def close_stores() -> None:
    """Close the Redis connections of every cache store (the AI plugin does it when the app stops)."""
    for store in list(_stores.values()):
        await store.aclose()


async def clear_cache(settings: Any, agent: str | None = None) -> int:
    """Delete cached responses (of ``agent`` only, when given; tool results are under ``tool:``). Returns a count."""
    prefix = PREFIX + (f"{agent}:" if agent else "")
    return int(await cache_store(settings).clear(prefix))


def _normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in sorted(value.items()) if k not in _VOLATILE}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def _digest(value: Any) -> str:
    from pydantic_core import to_jsonable_python

    data = _normalized(to_jsonable_python(value, fallback=repr))
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=repr).encode()).hexdigest()


def response_key(request_context: Any, *, agent: str | None, principal: Any) -> str:
    """The cache key of a model request (``fastmango:ai:cache:AGENT:HASH``)."""
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    model = request_context.model
    messages = ModelMessagesTypeAdapter.dump_python(request_context.messages, mode="json")
    parts = {
        "model": f"{getattr(model, 'system', '')}:{model.model_name}",
        "settings": request_context.model_settings,
        "parameters": request_context.model_request_parameters,  # tools, output schema, instructions
        "messages": messages,
        "principal": principal,
    }
    return f"{PREFIX}{agent or '-'}:{_digest(parts)}"


def tool_key(tool: str, args: Any, principal: Any) -> str:
    """The cache key of a tool call."""
    return f"{PREFIX}tool:{tool}:{_digest({'args': args, 'principal': principal})}"


def dump_response(response: Any, cost: float | None) -> str:
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    messages = ModelMessagesTypeAdapter.dump_python([response], mode="json")
    return json.dumps({"response": messages[0], "cost": cost})


def load_response(value: str) -> tuple[Any, float | None] | None:
    """A stored response and its cost; None for an entry this version cannot read (a miss, not an error)."""
    from pydantic import ValidationError
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    try:
        data = json.loads(value)
        return ModelMessagesTypeAdapter.validate_python([data["response"]])[0], data.get("cost")
    except (ValueError, KeyError, TypeError, IndexError, ValidationError):
        return None
