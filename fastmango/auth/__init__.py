"""Auth: users, groups, permissions, Argon2 passwords, JWT tokens and FastAPI dependencies.

from fastmango.auth import User, Group, Permission, CurrentUser, current_user, optional_user
from fastmango.auth import require_permission, require_staff, require_superuser, hash_password, verify_password
from fastmango.auth import check, codename, permissions_of, permission_scope, policy_for, Policy
"""

from fastmango.auth.backend import AnonymousUser, AuthBackend
from fastmango.auth.checks import check, first_missing, permissions_of
from fastmango.auth.dependencies import (
    CurrentUser,
    current_user,
    optional_user,
    require_permission,
    require_staff,
    require_superuser,
    required_permissions,
)
from fastmango.auth.errors import NotAuthenticated, PermissionDenied, TooManyAttempts, UnknownPermission
from fastmango.auth.models import Group, Permission, User
from fastmango.auth.passwords import configure_password_hashing, hash_password, verify_password
from fastmango.auth.permission_scope import forget_permissions, permission_scope
from fastmango.auth.permissions import PERMISSION_OF, codename, permission_codenames, sync_permissions
from fastmango.auth.policies import (
    CallablePolicy,
    ModelPermissions,
    Open,
    OpenReads,
    Policy,
    authorize,
    policy_for,
)
from fastmango.auth.tokens import TokenService

__all__ = [
    "PERMISSION_OF",
    "AnonymousUser",
    "AuthBackend",
    "CallablePolicy",
    "CurrentUser",
    "Group",
    "ModelPermissions",
    "NotAuthenticated",
    "Open",
    "OpenReads",
    "Permission",
    "PermissionDenied",
    "Policy",
    "TokenService",
    "TooManyAttempts",
    "UnknownPermission",
    "User",
    "authorize",
    "check",
    "codename",
    "configure_password_hashing",
    "current_user",
    "first_missing",
    "forget_permissions",
    "hash_password",
    "optional_user",
    "permission_codenames",
    "permission_scope",
    "permissions_of",
    "policy_for",
    "require_permission",
    "require_staff",
    "require_superuser",
    "required_permissions",
    "sync_permissions",
    "verify_password",
]
