"""No privilege escalation through the admin's users and groups (fastmango/admin/escalation.py)."""

from __future__ import annotations

import httpx
import pytest

from fastmango.admin.users import permissions
from fastmango.api import Caller
from fastmango.auth import User
from fastmango.auth.models import Group, Permission, UserGroup
from fastmango.core.errors import ProblemError
from tests.admin.conftest import headers_for

API = "/admin/api"
USER_MANAGER = (
    "auth_user.view",
    "auth_user.change",
    "auth_user.delete",
    "auth_group.view",
    "auth_group.change",
    "auth_permission.view",
)


async def permission_id(codename: str) -> int:
    found = await Permission.objects.get(codename=codename)
    assert found.id is not None
    return found.id


async def test_a_user_manager_cannot_make_anyone_a_superuser(client: httpx.AsyncClient) -> None:
    manager = await headers_for(client, "manager", *USER_MANAGER)
    other = await User.objects.create_user("other", password="a password 1")
    for pk in (1, other.id):  # themselves, another user
        refused = await client.patch(f"{API}/models/auth_user/{pk}", json={"is_superuser": True}, headers=manager)
        assert refused.status_code == 403
        assert "superuser" in refused.json()["detail"]
    assert not await User.objects.filter(is_superuser=True).exists()
    allowed = await client.patch(f"{API}/models/auth_user/{other.id}", json={"is_active": False}, headers=manager)
    assert allowed.status_code == 200


async def test_only_permissions_held_are_granted_and_more_privileged_accounts_are_left_alone(
    client: httpx.AsyncClient,
) -> None:
    manager = await headers_for(client, "manager", *USER_MANAGER, "book.view")
    other = await User.objects.create_user("other", password="a password 1")
    delete_books, view_books = await permission_id("book.delete"), await permission_id("book.view")
    url = f"{API}/models/auth_user/{other.id}"
    refused = await client.patch(url, json={"user_permissions": [delete_books]}, headers=manager)
    assert refused.status_code == 403
    assert "book.delete" in refused.json()["detail"]
    assert not await other.has_perm("book.delete")
    assert (await client.patch(url, json={"user_permissions": [view_books]}, headers=manager)).status_code == 200
    await other.grant("book.delete")  # granted by someone who holds it: other now holds more than the manager
    taken = await client.patch(url, json={"email": "mine@example.com"}, headers=manager)
    assert taken.status_code == 403
    assert "book.delete" in taken.json()["detail"]
    assert (await client.post(f"{url}/password", json={"password": "taken over!"}, headers=manager)).status_code == 403
    assert (await client.delete(url, headers=manager)).status_code == 403
    await other.revoke("book.delete")
    await User.objects.filter(pk=other.id).update(is_active=False)
    again = await client.patch(url, json={"is_active": True}, headers=manager)
    assert again.status_code == 200  # an inactive account holding no more than the manager may be reactivated


async def test_a_permissions_holders_change_only_on_the_user_and_group_forms(client: httpx.AsyncClient) -> None:
    staff = await headers_for(client, "staff", "auth_permission.view", "auth_permission.change")
    mine = await Group.objects.create(name="mine")
    await UserGroup.objects.create(user_id=(await User.objects.get(username="staff")).id, group_id=mine.id)
    delete_books = await permission_id("book.delete")
    url = f"{API}/models/auth_permission/{delete_books}"
    for relation, key in (("users", 1), ("groups", mine.id)):
        refused = await client.patch(url, json={relation: [key]}, headers=staff)
        assert refused.status_code in (403, 422), refused.text  # 422: the admin sees no user it may link
        # The resource refuses it too, for every surface (an AI tool, a task), whatever the admin checks first.
        with pytest.raises(ProblemError) as failure:
            await permissions.update(
                Caller(user=await User.objects.get(username="staff")), delete_books, {}, relations={relation: [key]}
            )
        assert failure.value.status == 403
    assert not await (await User.objects.get(username="staff")).has_perm("book.delete")


async def test_groups_carry_no_more_than_the_granting_user_holds(client: httpx.AsyncClient) -> None:
    manager = await headers_for(client, "manager", *USER_MANAGER)
    editors = await Group.objects.create(name="editors")
    await editors.grant("book.delete")
    assert editors.id is not None
    joined = await client.patch(f"{API}/models/auth_user/1", json={"groups": [editors.id]}, headers=manager)
    assert joined.status_code == 403  # joining the group would give the manager book.delete
    members = await client.patch(f"{API}/models/auth_group/{editors.id}", json={"users": [1]}, headers=manager)
    assert members.status_code == 403, members.text
    loaded = await client.patch(
        f"{API}/models/auth_group/{editors.id}",
        json={"permissions": [await permission_id("auth_user.add")]},
        headers=manager,
    )
    assert loaded.status_code == 403
    assert not await (await User.objects.get(pk=1)).has_perm("book.delete")


async def test_a_superusers_account_is_left_to_superusers(client: httpx.AsyncClient) -> None:
    manager = await headers_for(client, "manager", *USER_MANAGER)
    root = await headers_for(client, "root", superuser=True)
    target = (await User.objects.get(username="root")).id
    url = f"{API}/models/auth_user/{target}"
    assert (await client.patch(url, json={"is_active": False}, headers=manager)).status_code == 403
    assert (await client.post(f"{url}/password", json={"password": "taken over!"}, headers=manager)).status_code == 403
    assert (await client.delete(url, headers=manager)).status_code == 403
    assert (await User.objects.get(pk=target)).is_active
    assert (await client.patch(url, json={"is_active": True}, headers=root)).status_code == 200
    promoted = await client.patch(f"{API}/models/auth_user/1", json={"is_superuser": True}, headers=root)
    assert promoted.status_code == 200
