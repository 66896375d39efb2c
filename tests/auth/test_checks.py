"""The one permission decision (fastmango/auth/checks.py, permission_scope.py): loaded once per scope."""

from __future__ import annotations

import asyncio

import httpx

from fastmango.auth import AnonymousUser, Group, User, check, permission_scope, permissions_of
from fastmango.auth.models import Permission, UserPermission
from fastmango.auth.permission_scope import current_permission_cache
from fastmango.testing import capture_queries
from tests.auth.conftest import PASSWORD


def permission_queries(statements: list[str]) -> list[str]:
    return [sql for sql in statements if "auth_permission" in sql]


async def test_a_scope_loads_own_and_group_permissions_in_one_query(client: httpx.AsyncClient) -> None:
    ada = await User.objects.create_user("ada", password=PASSWORD)
    editors = await Group.objects.create(name="editors")
    await editors.grant("book.add")
    await ada.add_to_group(editors)
    await ada.grant("author.view")
    with permission_scope(), capture_queries() as queries:
        assert await permissions_of(ada) == {"book.add", "author.view"}
        assert await check(ada, "book.add", "author.view")
        assert not await check(ada, "book.delete")
        assert await ada.has_perm("book.add")
    assert len(queries) == 1


async def test_outside_a_scope_every_check_asks_the_database(client: httpx.AsyncClient) -> None:
    ada = await User.objects.create_user("ada", password=PASSWORD)
    assert current_permission_cache() is None
    assert not await check(ada, "book.add")
    permission = await Permission.objects.get(codename="book.add")
    await UserPermission.objects.create(user_id=ada.id, permission_id=permission.id)  # no hook tells the cache
    assert await check(ada, "book.add")


async def test_a_grant_in_the_scope_is_seen_by_the_next_check(client: httpx.AsyncClient) -> None:
    ada = await User.objects.create_user("ada", password=PASSWORD)
    editors = await Group.objects.create(name="editors")
    with permission_scope():
        assert not await check(ada, "book.add")
        await ada.grant("book.add")
        assert await check(ada, "book.add")
        await ada.revoke("book.add")
        assert not await check(ada, "book.add")
        await ada.add_to_group(editors)
        await editors.grant("book.change")  # every member's cache is forgotten
        assert await check(ada, "book.change")
        await editors.revoke("book.change")
        assert not await check(ada, "book.change")
        await editors.grant("book.change")
        await ada.remove_from_group(editors)
        assert not await check(ada, "book.change")


async def test_a_change_elsewhere_is_not_seen_until_the_next_scope(client: httpx.AsyncClient) -> None:
    ada = await User.objects.create_user("ada", password=PASSWORD)
    with permission_scope():
        assert not await check(ada, "book.add")
        with permission_scope(inherit=False):  # another request or task, in the same process
            await ada.grant("book.add")
        assert not await check(ada, "book.add")
    with permission_scope():
        assert await check(ada, "book.add")


async def test_parallel_checks_in_a_scope_share_one_query(client: httpx.AsyncClient) -> None:
    ada = await User.objects.create_user("ada", password=PASSWORD)
    await ada.grant("book.view")
    with permission_scope(), capture_queries() as queries:
        verdicts = await asyncio.gather(*(check(ada, "book.view") for _ in range(5)))
    assert verdicts == [True] * 5
    assert len(queries) == 1


async def test_nested_scopes_share_the_outer_cache_unless_asked(client: httpx.AsyncClient) -> None:
    with permission_scope() as outer:
        with permission_scope() as inner:
            assert inner is outer
        with permission_scope(inherit=False) as own:
            assert own is not outer
            assert current_permission_cache() is own
        assert current_permission_cache() is outer
    assert current_permission_cache() is None


async def test_superusers_hold_everything_without_a_query_inactive_and_anonymous_users_nothing(
    client: httpx.AsyncClient,
) -> None:
    root = await User.objects.create_superuser("root", password=PASSWORD)
    sleeper = await User.objects.create_user("sleeper", password=PASSWORD, is_active=False)
    await sleeper.grant("book.view")
    with capture_queries() as queries:
        assert await check(root, "book.delete", "auth_user.change")
        assert not await check(sleeper, "book.view")
        assert not await check(None, "book.view")
        assert not await check(AnonymousUser(), "book.view")
        assert await permissions_of(sleeper) == frozenset()
        assert await check(None)  # nothing asked, nothing missing
    assert queries == []
    assert "auth_user.change" in await permissions_of(root)


def test_a_scope_entered_twice_undoes_each_entry_and_works_as_a_decorator() -> None:
    scope = permission_scope(inherit=False)
    assert current_permission_cache() is None
    with scope as outer:
        with scope as inner:
            assert current_permission_cache() is inner is not outer
        assert current_permission_cache() is outer
    assert current_permission_cache() is None

    @permission_scope()
    def decorated() -> object:
        return current_permission_cache()

    assert decorated() is not None and current_permission_cache() is None
