"""Permission policies (fastmango/auth/policies.py): what ``permissions=`` values decide."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fastmango.auth import (
    CallablePolicy,
    ModelPermissions,
    NotAuthenticated,
    Open,
    OpenReads,
    PermissionDenied,
    Policy,
    User,
    authorize,
    policy_for,
)
from tests.auth.conftest import PASSWORD


def test_permissions_values_become_policies() -> None:
    assert isinstance(policy_for(True, "book"), ModelPermissions)
    assert isinstance(policy_for("writes", "book"), OpenReads)
    assert isinstance(policy_for(False, "book"), Open)
    assert isinstance(policy_for(lambda user, action: True, "book"), CallablePolicy)
    own = ModelPermissions("author")
    assert policy_for(own, "book") is own
    with pytest.raises(TypeError, match="permissions= takes True, False, 'writes'"):
        policy_for("reads", "book")  # type: ignore[arg-type]


def test_a_policy_names_the_permissions_an_action_needs() -> None:
    assert ModelPermissions("book").required("list") == ("book.view",)
    assert ModelPermissions("book").required("replace") == ("book.change",)
    assert OpenReads("book").required("get") == ()
    assert OpenReads("book").required("create") == ("book.add",)
    assert [OpenReads("book").guarded(action) for action in ("list", "delete")] == [False, True]
    assert not Open().guarded("delete")
    assert CallablePolicy(lambda user, action: True).guarded("list")


async def test_model_permissions_refuse_anonymous_with_401_and_users_with_403_naming_the_permission(
    client: httpx.AsyncClient,
) -> None:
    policy = policy_for(True, "book")
    reader = await User.objects.create_user("reader", password=PASSWORD)
    await reader.grant("book.view")
    await authorize(policy, reader, "list")
    with pytest.raises(NotAuthenticated):
        await authorize(policy, None, "list")
    with pytest.raises(PermissionDenied) as refused:
        await authorize(policy, reader, "create")
    assert refused.value.detail == "Missing permission book.add."
    await authorize(policy_for("writes", "book"), None, "get")
    await authorize(policy_for(False, "book"), None, "delete")


async def test_a_callable_decides_and_may_be_a_coroutine(client: httpx.AsyncClient) -> None:
    seen: list[tuple[Any, str]] = []

    async def only_staff(user: User | None, action: str) -> bool:
        seen.append((user, action))
        return user is not None and user.is_staff

    policy = policy_for(only_staff, "book")
    staff = await User.objects.create_user("staff", password=PASSWORD, is_staff=True)
    await authorize(policy, staff, "delete")
    with pytest.raises(PermissionDenied, match=r"Not allowed to delete book\."):
        await authorize(policy, await User.objects.create_user("plain", password=PASSWORD), "delete")
    with pytest.raises(NotAuthenticated):
        await authorize(policy, None, "list")
    assert seen[-1] == (None, "list")


async def test_an_object_level_check_runs_after_the_action_is_allowed(client: httpx.AsyncClient) -> None:
    class OwnRowsOnly(ModelPermissions):
        async def has_object_permission(self, user: Any, obj: Any) -> bool:
            return bool(obj["owner"] == user.id)

    policy: Policy = OwnRowsOnly("book")
    ada = await User.objects.create_user("ada", password=PASSWORD)
    await ada.grant("book.change")
    await authorize(policy, ada, "update", {"owner": ada.id})
    with pytest.raises(PermissionDenied, match=r"Not allowed to update this book\."):
        await authorize(policy, ada, "update", {"owner": -1})
    assert await ModelPermissions("book").has_object_permission(ada, {"owner": -1})
