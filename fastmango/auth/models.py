"""Users, groups and permissions, stored in Django's table names (``auth_user``, ``auth_group``...).

Every table model gets the permissions ``<table>.view``, ``<table>.add``, ``<table>.change`` and
``<table>.delete`` (created by ``fastmango migrate``). A user's permissions are their own plus their
groups'; a superuser has every permission; an inactive user has none.
"""

import datetime
from typing import Any, ClassVar

from fastmango.auth.errors import UnknownPermission
from fastmango.auth.passwords import hash_password, verify_password
from fastmango.auth.permission_scope import forget_permissions
from fastmango.db import Field, Manager, Model, Relationship, UTCDateTime


def utcnow() -> datetime.datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.datetime.now(datetime.UTC)


def TimestampField(**kwargs: Any) -> Any:
    """A timezone-aware datetime column."""
    return Field(sa_type=UTCDateTime, **kwargs)


class UserGroup(Model, table=True):
    __tablename__ = "auth_user_groups"

    user_id: int | None = Field(default=None, foreign_key="auth_user.id", primary_key=True, ondelete="CASCADE")
    group_id: int | None = Field(default=None, foreign_key="auth_group.id", primary_key=True, ondelete="CASCADE")


class UserPermission(Model, table=True):
    __tablename__ = "auth_user_permissions"

    user_id: int | None = Field(default=None, foreign_key="auth_user.id", primary_key=True, ondelete="CASCADE")
    permission_id: int | None = Field(
        default=None, foreign_key="auth_permission.id", primary_key=True, ondelete="CASCADE"
    )


class GroupPermission(Model, table=True):
    __tablename__ = "auth_group_permissions"

    group_id: int | None = Field(default=None, foreign_key="auth_group.id", primary_key=True, ondelete="CASCADE")
    permission_id: int | None = Field(
        default=None, foreign_key="auth_permission.id", primary_key=True, ondelete="CASCADE"
    )


class Permission(Model, table=True):
    """A permission such as ``book.add``: ``<table>.<action>``."""

    __tablename__ = "auth_permission"

    id: int | None = Field(default=None, primary_key=True)
    codename: str = Field(unique=True, max_length=200)
    name: str = Field(default="", max_length=255)
    users: list["User"] = Relationship(back_populates="user_permissions", link_model=UserPermission)
    groups: list["Group"] = Relationship(back_populates="permissions", link_model=GroupPermission)


async def _permission(codename: str) -> Permission:
    try:
        return await Permission.objects.get(codename=codename)
    except Permission.DoesNotExist:
        raise UnknownPermission(
            f"unknown permission {codename!r}: permissions are <table>.view/add/change/delete and exist once "
            "`fastmango migrate` has run for that table"
        ) from None


class Group(Model, table=True):
    """A named set of permissions that users belong to."""

    __tablename__ = "auth_group"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=150)
    permissions: list[Permission] = Relationship(back_populates="groups", link_model=GroupPermission)
    users: list["User"] = Relationship(back_populates="groups", link_model=UserGroup)

    async def grant(self, *codenames: str) -> None:
        """Give the group these permissions. Raises :class:`UnknownPermission` naming an unknown one."""
        try:
            for codename in codenames:
                permission = await _permission(codename)
                await GroupPermission.objects.get_or_create(group_id=self.id, permission_id=permission.id)
        finally:
            forget_permissions()  # every member's

    async def revoke(self, *codenames: str) -> None:
        """Take these permissions from the group."""
        try:
            for codename in codenames:
                permission = await _permission(codename)
                await GroupPermission.objects.filter(group_id=self.id, permission_id=permission.id).delete()
        finally:
            forget_permissions()  # every member's


class UserManager(Manager["User"]):
    """``User.objects``, with ``create_user`` and ``create_superuser``."""

    def __get__(self, instance: object | None, owner: type[Any]) -> "UserManager":  # type: ignore[override]
        return super().__get__(instance, owner)  # type: ignore[return-value]

    async def create_user(
        self, username: str, password: str | None = None, *, email: str | None = None, **fields: Any
    ) -> "User":
        """Create a user; ``password=None`` makes an account that cannot log in with a password."""
        user = User(username=username, email=email or None, **fields)
        user.set_password(password)
        await user.save()
        return user

    async def create_superuser(
        self, username: str, password: str | None = None, *, email: str | None = None, **fields: Any
    ) -> "User":
        """Create a user with ``is_staff`` and ``is_superuser``."""
        return await self.create_user(username, password, email=email, is_staff=True, is_superuser=True, **fields)


class User(Model, table=True):
    """An account. ``hashed_password`` is write-only: it never appears in API responses."""

    __tablename__ = "auth_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=150)
    email: str | None = Field(default=None, max_length=254, index=True)
    hashed_password: str = Field(default="", max_length=255, schema_extra={"json_schema_extra": {"writeOnly": True}})
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    date_joined: datetime.datetime = TimestampField(default_factory=utcnow)
    last_login: datetime.datetime | None = TimestampField(default=None)
    groups: list[Group] = Relationship(back_populates="users", link_model=UserGroup)
    user_permissions: list[Permission] = Relationship(back_populates="users", link_model=UserPermission)

    objects: ClassVar[UserManager] = UserManager()

    is_authenticated: ClassVar[bool] = True

    def set_password(self, password: str | None) -> None:
        """Store the hash of ``password`` (None: no usable password)."""
        self.hashed_password = hash_password(password) if password is not None else ""

    def check_password(self, password: str) -> bool:
        """Whether ``password`` is this user's password."""
        return bool(self.hashed_password) and verify_password(password, self.hashed_password)

    async def get_all_permissions(self) -> set[str]:
        """Every permission the user has: their own and their groups' (all for a superuser, none if inactive)."""
        from fastmango.auth.checks import permissions_of  # checks imports this module

        return set(await permissions_of(self))

    async def has_perm(self, codename: str) -> bool:
        """Whether the user has the permission ``codename`` (see :func:`fastmango.auth.checks.check`: one query
        per scope, none for a superuser)."""
        from fastmango.auth.checks import check  # checks imports this module

        return await check(self, codename)

    async def grant(self, *codenames: str) -> None:
        """Give the user these permissions directly. Raises :class:`UnknownPermission` for an unknown one."""
        try:
            for codename in codenames:
                permission = await _permission(codename)
                await UserPermission.objects.get_or_create(user_id=self.id, permission_id=permission.id)
        finally:
            forget_permissions(self.id)

    async def revoke(self, *codenames: str) -> None:
        """Take these directly granted permissions from the user (group permissions stay)."""
        try:
            for codename in codenames:
                permission = await _permission(codename)
                await UserPermission.objects.filter(user_id=self.id, permission_id=permission.id).delete()
        finally:
            forget_permissions(self.id)

    async def add_to_group(self, group: Group) -> None:
        """Make the user a member of ``group``."""
        await UserGroup.objects.get_or_create(user_id=self.id, group_id=group.id)
        forget_permissions(self.id)

    async def remove_from_group(self, group: Group) -> None:
        """Remove the user from ``group``."""
        await UserGroup.objects.filter(user_id=self.id, group_id=group.id).delete()
        forget_permissions(self.id)


class RevokedToken(Model, table=True):
    """A token id (``jti``) refused until it would have expired anyway (used when Redis is not configured)."""

    __tablename__ = "auth_revoked_token"

    jti: str = Field(primary_key=True, max_length=64)
    expires_at: datetime.datetime = TimestampField(index=True)
