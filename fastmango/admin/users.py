"""Users, groups and permissions in the admin, registered by default.

A user's groups and permissions are many-to-many fields of the user form; the password hash is write-only, so it
is never shown nor returned, and changes only through :func:`set_password` (``POST
/admin/api/models/auth_user/{pk}/password``), which hashes it and records a masked history entry. Any change of a
user or a group forgets the cached permissions it affects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastmango.admin import escalation
from fastmango.admin.site import AdminSite
from fastmango.api.caller import Caller
from fastmango.api.resource import ModelResource
from fastmango.auth.models import Group, Permission, User
from fastmango.auth.passwords import hash_password
from fastmango.auth.permission_scope import forget_permissions
from fastmango.core.errors import ProblemError

#: The shortest password the admin sets.
MIN_PASSWORD_LENGTH = 8


class UserResource(ModelResource[User]):
    """Users, with the permission cache forgotten after each change (their groups and permissions may change), and
    no privilege escalation (:mod:`fastmango.admin.escalation`)."""

    async def create(
        self, caller: Caller, values: dict[str, Any], *, relations: Mapping[str, Sequence[Any]] | None = None
    ) -> dict[str, Any]:
        await self.authorize(caller, "create")
        await escalation.check_user_write(caller, values, relations)
        try:
            return await super().create(caller, values, relations=relations)
        finally:
            forget_permissions()

    async def update(self, caller: Caller, pk: Any, values: dict[str, Any], **options: Any) -> Any:
        await self.authorize(caller, options.get("action", "update"))
        await escalation.check_user_write(caller, values, options.get("relations"), pk)
        try:
            return await super().update(caller, pk, values, **options)
        finally:
            forget_permissions(pk)

    async def delete(self, caller: Caller, pk: Any) -> None:
        await self.authorize(caller, "delete")
        await escalation.check_user_delete(caller, pk)
        try:
            await super().delete(caller, pk)
        finally:
            forget_permissions(pk)


class GroupResource(ModelResource[Group]):
    """Groups: a change of a group's permissions or members changes every member's permissions; no privilege
    escalation through them (:mod:`fastmango.admin.escalation`)."""

    async def create(
        self, caller: Caller, values: dict[str, Any], *, relations: Mapping[str, Sequence[Any]] | None = None
    ) -> dict[str, Any]:
        await self.authorize(caller, "create")
        await escalation.check_group_write(caller, relations)
        try:
            return await super().create(caller, values, relations=relations)
        finally:
            forget_permissions()

    async def update(self, caller: Caller, pk: Any, values: dict[str, Any], **options: Any) -> Any:
        await self.authorize(caller, options.get("action", "update"))
        await escalation.check_group_write(caller, options.get("relations"), pk)
        try:
            return await super().update(caller, pk, values, **options)
        finally:
            forget_permissions()

    async def delete(self, caller: Caller, pk: Any) -> None:
        try:
            await super().delete(caller, pk)
        finally:
            forget_permissions()


class PermissionResource(ModelResource[Permission]):
    """Permissions: who holds one changes on the user and group forms, where it is checked, not here."""

    async def create(
        self, caller: Caller, values: dict[str, Any], *, relations: Mapping[str, Sequence[Any]] | None = None
    ) -> dict[str, Any]:
        await self.authorize(caller, "create")
        await escalation.check_permission_write(caller, relations)
        try:
            return await super().create(caller, values, relations=relations)
        finally:
            forget_permissions()

    async def update(self, caller: Caller, pk: Any, values: dict[str, Any], **options: Any) -> Any:
        await self.authorize(caller, options.get("action", "update"))
        await escalation.check_permission_write(caller, options.get("relations"))
        try:
            return await super().update(caller, pk, values, **options)
        finally:
            forget_permissions()


users = UserResource(User, search_fields=["username", "email"], filter_fields=["is_staff", "is_active"])
groups = GroupResource(Group, search_fields=["name"])
permissions = PermissionResource(Permission, search_fields=["codename", "name"])


def register_defaults(site: AdminSite) -> None:
    """Register users, groups and permissions on ``site``."""
    site.register(
        users,
        list_display=["id", "username", "email", "is_active", "is_staff", "is_superuser"],
        list_filter=["is_active", "is_staff", "is_superuser", "groups"],
        search_fields=["username", "email"],
        ordering=["username"],
        readonly_fields=["date_joined", "last_login"],
        fieldsets=[
            (None, ["username", "email"]),
            ("Permissions", ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]),
            ("Dates", ["date_joined", "last_login"]),
        ],
        autocomplete_fields=["groups", "user_permissions"],
        label="Users",
        label_singular="User",
    )
    site.register(
        groups,
        list_display=["id", "name"],
        search_fields=["name"],
        ordering=["name"],
        autocomplete_fields=["permissions"],
        label="Groups",
        label_singular="Group",
    )
    site.register(
        permissions,
        list_display=["id", "codename", "name"],
        search_fields=["codename", "name"],
        ordering=["codename"],
        label="Permissions",
        label_singular="Permission",
    )


async def set_password(resource: ModelResource[Any], caller: Caller, pk: Any, password: Any) -> None:
    """Set user ``pk``'s password through ``resource`` (its change permission, its rows, a masked history entry).

    Raises:
        ProblemError: 422 for a password too short, 403/404 as the resource decides.
    """
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ProblemError(
            422,
            f"A password has at least {MIN_PASSWORD_LENGTH} characters.",
            title="Validation failed",
            errors=[{"field": "password", "message": f"At least {MIN_PASSWORD_LENGTH} characters."}],
        )
    await resource.update(caller, pk, {"hashed_password": hash_password(password)})
