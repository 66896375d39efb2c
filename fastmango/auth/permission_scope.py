"""The permission cache of the current scope: a request, an agent run or a task run.

``with permission_scope():`` opens a cache that :func:`fastmango.auth.checks.permissions_of` fills with each
user's permissions the first time they are needed, so a scope pays one query per user however many checks it
makes. The auth middleware opens one per request, the fastmango agent capability one per agent run, and the
task runner one per attempt. Outside any scope nothing is cached: every check asks the database.

A user's cached permissions are forgotten when they change in the same scope (``User.grant``/``revoke``, group
membership; a group's ``grant``/``revoke`` forgets every user's). A change made by another process or request is
seen by the next scope.
"""

from __future__ import annotations

import asyncio
from contextlib import ContextDecorator
from contextvars import ContextVar, Token

#: (user id, superuser?): an account's flags can change between two instances of it in one scope.
CacheKey = tuple[int, bool]


class PermissionCache:
    """The permissions loaded in one scope, by user."""

    def __init__(self) -> None:
        self.entries: dict[CacheKey, frozenset[str]] = {}
        self.generation = 0  # bumped by forget(): a load that began before it must not be stored
        self._locks: dict[CacheKey, asyncio.Lock] = {}

    def lock(self, key: CacheKey) -> asyncio.Lock:
        """The lock that makes concurrent checks of one user (parallel tool calls) share one load."""
        return self._locks.setdefault(key, asyncio.Lock())

    def forget(self, user_id: int | None = None) -> None:
        """Drop the permissions of ``user_id`` (every user's when None)."""
        self.generation += 1
        if user_id is None:
            self.entries.clear()
        else:
            for key in [key for key in self.entries if key[0] == user_id]:
                del self.entries[key]


_current: ContextVar[PermissionCache | None] = ContextVar("fastmango_permission_scope", default=None)


class permission_scope(ContextDecorator):
    """Cache permissions for the block (``with permission_scope() as cache:``).

    Args:
        inherit: Inside another scope, share its cache (a route tool's in-process request within an agent run
            within a request); False opens a cache of its own (a task attempt).

    A class rather than a generator: the authentication middleware opens one per request. One instance may be
    entered again while open (each entry is undone by its own exit).
    """

    __slots__ = ("inherit", "tokens")

    def __init__(self, *, inherit: bool = True) -> None:
        self.inherit = inherit
        self.tokens: list[Token[PermissionCache | None] | None] = []

    def __enter__(self) -> PermissionCache:
        current = _current.get()
        if self.inherit and current is not None:
            self.tokens.append(None)
            return current
        cache = PermissionCache()
        self.tokens.append(_current.set(cache))
        return cache

    def __exit__(self, *exc_info: object) -> None:
        token = self.tokens.pop()
        if token is not None:
            _current.reset(token)


def current_permission_cache() -> PermissionCache | None:
    """The cache of the scope the caller runs in; None outside any."""
    return _current.get()


def forget_permissions(user_id: int | None = None) -> None:
    """Forget the cached permissions of ``user_id`` (every user's when None) in the current scope."""
    cache = _current.get()
    if cache is not None:
        cache.forget(user_id)
