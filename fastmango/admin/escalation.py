"""No privilege escalation through the user and group resources: what a staff user may grant is what they hold.

A user with ``auth_user.change`` could otherwise make themselves a superuser, or give themselves (or a group they
belong to) any permission: Django's admin allows both and warns about it in its documentation. Here, for every
surface that writes users and groups (the admin, its assistant, AI tools), a caller who is not a superuser:

- cannot grant or take superuser status, nor change, delete or set the password of an account that is a
  superuser's or holds a permission they lack (an account takeover is an escalation too);
- can add to a user, or to a group, only permissions they hold themselves, directly or through a group of theirs
  (permissions a user or group already had stay, whoever edits it);
- can add members to a group only when they hold every permission of that group;
- cannot change a permission's users or groups (that goes through the user and group forms).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastmango.api.caller import Caller
from fastmango.auth.checks import permissions_of
from fastmango.auth.models import GroupPermission, Permission, User, UserGroup, UserPermission
from fastmango.core.errors import ProblemError

Relations = Mapping[str, Sequence[Any]] | None


def _refuse(detail: str) -> ProblemError:
    return ProblemError(403, detail, title="Permission denied")


async def check_user_write(caller: Caller, values: Mapping[str, Any], relations: Relations, pk: Any = None) -> None:
    """Refuse a write of user ``pk`` (a new user when None) that would give ``caller`` more than they hold."""
    if _superuser(caller):
        return
    if pk is not None:
        await _check_target(caller, pk, "change")
    if values.get("is_superuser"):
        raise _refuse("Only a superuser can make a user a superuser.")
    relations = relations or {}
    granted: set[str] = set()
    if "user_permissions" in relations:
        before = await _linked(UserPermission, "user_id", "permission_id", pk)
        granted |= await _codenames(_added(relations["user_permissions"], before))
    if "groups" in relations:
        before = await _linked(UserGroup, "user_id", "group_id", pk)
        granted |= await _group_codenames(_added(relations["groups"], before))
    await _check_held(caller, granted)


async def check_user_delete(caller: Caller, pk: Any) -> None:
    """Refuse the deletion of an account more privileged than the caller's."""
    if not _superuser(caller):
        await _check_target(caller, pk, "delete")


async def check_permission_write(caller: Caller, relations: Relations) -> None:
    """Who holds a permission changes only through the user and group forms (checked there), or by a superuser."""
    if relations and not _superuser(caller):
        raise _refuse("Only a superuser changes a permission's users or groups; grant it on the user or group.")


async def _check_target(caller: Caller, pk: Any, verb: str) -> None:
    """Refuse to ``verb`` an account that is a superuser's or holds a permission the caller lacks (active or not:
    reactivating a powerful account is a takeover too)."""
    target = await User.objects.filter(pk=pk).values_list("is_superuser", flat=True)[:1]
    if not target:
        return  # the resource answers the 404
    if target[0]:
        raise _refuse(f"Only a superuser can {verb} a superuser's account.")
    direct = await _linked(UserPermission, "user_id", "permission_id", pk)
    codenames = await _codenames(list(direct)) | await _group_codenames(
        list(await _linked(UserGroup, "user_id", "group_id", pk))
    )
    missing = codenames - await permissions_of(caller.user)
    if missing:
        raise _refuse(
            f"You cannot {verb} the account of a user holding permissions you lack ({', '.join(sorted(missing))})."
        )


async def check_group_write(caller: Caller, relations: Relations, pk: Any = None) -> None:
    """Refuse a write of group ``pk`` (a new group when None) that would give ``caller`` more than they hold."""
    if _superuser(caller) or not relations:
        return
    if "permissions" in relations:
        before = await _linked(GroupPermission, "group_id", "permission_id", pk)
        await _check_held(caller, await _codenames(_added(relations["permissions"], before)))
    if "users" in relations and pk is not None:
        before = await _linked(UserGroup, "group_id", "user_id", pk)
        if _added(relations["users"], before):
            await _check_held(caller, await _group_codenames([pk]))


def _superuser(caller: Caller) -> bool:
    return caller.user is not None and bool(caller.user.is_superuser)


def _added(given: Iterable[Any], before: set[Any]) -> list[Any]:
    return [key for key in dict.fromkeys(given) if key not in before]


async def _linked(link: Any, owner: str, target: str, pk: Any) -> set[Any]:
    if pk is None:
        return set()
    return set(await link.objects.filter(**{owner: pk}).values_list(target, flat=True))


async def _codenames(permission_ids: list[Any]) -> set[str]:
    if not permission_ids:
        return set()
    return set(await Permission.objects.filter(id__in=permission_ids).values_list("codename", flat=True))


async def _group_codenames(group_ids: list[Any]) -> set[str]:
    if not group_ids:
        return set()
    ids = await GroupPermission.objects.filter(group_id__in=group_ids).values_list("permission_id", flat=True)
    return await _codenames(list(ids))


async def _check_held(caller: Caller, codenames: set[str]) -> None:
    if not codenames:
        return
    missing = codenames - await permissions_of(caller.user)
    if missing:
        raise _refuse(f"You can only grant permissions you hold yourself; you lack {', '.join(sorted(missing))}.")
