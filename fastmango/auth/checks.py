"""The one permission decision: ``await check(user, "book.add")``.

A user's permissions are their own plus their groups' (every one for an active superuser, none for an inactive
or anonymous user). :func:`permissions_of` loads them in one query, cached for the current
:func:`~fastmango.auth.permission_scope.permission_scope`; ``require_permission``, ``User.has_perm``, AI tool
permissions and model resource policies all decide through :func:`check`.
"""

from __future__ import annotations

from typing import Any

from fastmango.auth.models import Permission
from fastmango.auth.permission_scope import current_permission_cache
from fastmango.db import Q


def is_authenticated(user: Any) -> bool:
    """Whether ``user`` is a signed-in account (None and ``AnonymousUser`` are not)."""
    return user is not None and bool(getattr(user, "is_authenticated", False))


async def permissions_of(user: Any) -> frozenset[str]:
    """Every permission codename ``user`` holds: their own and their groups' (all for a superuser, none for an
    anonymous or inactive user). One query per user in a scope; outside any scope, one query per call."""
    if not is_authenticated(user) or not user.is_active:
        return frozenset()
    superuser = bool(user.is_superuser)
    if user.id is None and not superuser:
        return frozenset()
    cache = current_permission_cache()
    if cache is None:
        return await _load(user.id, superuser)
    key = (user.id, superuser)
    found = cache.entries.get(key)
    if found is not None:
        return found
    async with cache.lock(key):
        found = cache.entries.get(key)
        if found is None:
            generation = cache.generation
            found = await _load(user.id, superuser)
            if generation == cache.generation:
                cache.entries[key] = found
    return found


async def check(user: Any, *codenames: str) -> bool:
    """Whether ``user`` holds every permission in ``codenames`` (True when none are named)."""
    return await first_missing(user, *codenames) is None


async def first_missing(user: Any, *codenames: str) -> str | None:
    """The first of ``codenames`` that ``user`` lacks; None when they hold them all.

    An active superuser holds every permission without a query.
    """
    if not codenames:
        return None
    if not is_authenticated(user) or not user.is_active:
        return codenames[0]
    if user.is_superuser:
        return None
    held = await permissions_of(user)
    return next((name for name in codenames if name not in held), None)


async def _load(user_id: int | None, superuser: bool) -> frozenset[str]:
    permissions = Permission.objects.all()
    if not superuser:
        permissions = permissions.filter(Q(users__id=user_id) | Q(groups__users__id=user_id))
    return frozenset(await permissions.values_list("codename", flat=True))
