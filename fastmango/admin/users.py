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
from fastmango.admin.escalation import Relations
from fastmango.admin.site import AdminSite
from fastmango.api.caller import Caller
from fastmango.api.resource import ModelResource
from fastmango.auth.models import Group, Permission, User
from fastmango.auth.passwords import hash_password
from fastmango.auth.permission_scope import forget_permissions
from fastmango.core.errors import ProblemError

#: The shortest password the admin sets.
MIN_PASSWORD_LENGTH = 8


class _RightsResource(ModelResource[Any]):
    """A resource whose rows decide who may do what: each write is checked against privilege escalation first
    (:mod:`fastmango.admin.escalation`), and the cached permissions it may change are forgotten after it."""

    async def check_write(self, caller: Caller, values: Mapping[str, Any], relations: Relations, pk: Any) -> None:
        """Refuse a write (``pk`` None: a new row) that would give ``caller`` more than they hold."""

    async def check_delete(self, caller: Caller, pk: Any) -> None:
        """Refuse a deletion that ``caller`` may not make."""

    def forget(self, pk: Any) -> None:
        """Forget the cached permissions a change of row ``pk`` (None: a new row) may affect: everyone's."""
        forget_permissions()

    async def create(
        self, caller: Caller, values: dict[str, Any], *, relations: Mapping[str, Sequence[Any]] | None = None
    ) -> dict[str, Any]:
        await self.authorize(caller, "create")
        await self.check_write(caller, values, relations, None)
        try:
            return await super().create(caller, values, relations=relations)
        finally:
            self.forget(None)

    async def update(self, caller: Caller, pk: Any, values: dict[str, Any], **options: Any) -> Any:
        await self.authorize(caller, options.get("action", "update"))
        await self.check_write(caller, values, options.get("relations"), pk)
        try:
            return await super().update(caller, pk, values, **options)
        finally:
            self.forget(pk)

    async def delete(self, caller: Caller, pk: Any) -> None:
        await self.authorize(caller, "delete")
        await self.check_delete(caller, pk)
        try:
            await super().delete(caller, pk)
        finally:
            self.forget(pk)


class UserResource(_RightsResource):
    """Users: no one takes over an account more privileged than theirs or grants what they lack."""

    async def check_write(self, caller: Caller, values: Mapping[str, Any], relations: Relations, pk: Any) -> None:
        await escalation.check_user_write(caller, values, relations, pk)

    async def check_delete(self, caller: Caller, pk: Any) -> None:
        await escalation.check_user_delete(caller, pk)

    def forget(self, pk: Any) -> None:
        if pk is None:
            forget_permissions()
        else:
            forget_permissions(pk)  # that user's only


class GroupResource(_RightsResource):
    """Groups: a change of a group's permissions or members changes every member's permissions."""

    async def check_write(self, caller: Caller, values: Mapping[str, Any], relations: Relations, pk: Any) -> None:
        await escalation.check_group_write(caller, relations, pk)


class PermissionResource(_RightsResource):
    """Permissions: who holds one changes on the user and group forms, where it is checked, not here."""

    async def check_write(self, caller: Caller, values: Mapping[str, Any], relations: Relations, pk: Any) -> None:
        await escalation.check_permission_write(caller, relations)


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
