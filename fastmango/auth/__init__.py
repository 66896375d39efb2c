"""Auth: users, groups, permissions, Argon2 passwords, JWT tokens and FastAPI dependencies.

from fastmango.auth import User, Group, Permission, CurrentUser, current_user, optional_user
from fastmango.auth import require_permission, require_staff, require_superuser, hash_password, verify_password
"""

from fastmango.auth.backend import AnonymousUser, AuthBackend
from fastmango.auth.dependencies import (
    CurrentUser,
    current_user,
    optional_user,
    require_permission,
    require_staff,
    require_superuser,
)
from fastmango.auth.errors import NotAuthenticated, PermissionDenied, TooManyAttempts, UnknownPermission
from fastmango.auth.models import Group, Permission, User
from fastmango.auth.passwords import configure_password_hashing, hash_password, verify_password
from fastmango.auth.permissions import permission_codenames, sync_permissions
from fastmango.auth.tokens import TokenService

__all__ = [
    "AnonymousUser",
    "AuthBackend",
    "CurrentUser",
    "Group",
    "NotAuthenticated",
    "Permission",
    "PermissionDenied",
    "TokenService",
    "TooManyAttempts",
    "UnknownPermission",
    "User",
    "configure_password_hashing",
    "current_user",
    "hash_password",
    "optional_user",
    "permission_codenames",
    "require_permission",
    "require_staff",
    "require_superuser",
    "sync_permissions",
    "verify_password",
]
