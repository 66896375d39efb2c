from __future__ import annotations

import httpx
import pytest

from fastmango.auth import Group, UnknownPermission, User, hash_password, verify_password
from fastmango.auth.passwords import configure_password_hashing, verify_and_update
from tests.auth.conftest import PASSWORD


async def test_create_user_hashes_the_password(client: httpx.AsyncClient) -> None:
    user = await User.objects.create_user("ada", password=PASSWORD, email="ada@example.com")
    stored = await User.objects.get(username="ada")
    assert stored.hashed_password.startswith("$argon2id$")
    assert PASSWORD not in stored.hashed_password
    assert stored.check_password(PASSWORD)
    assert not stored.check_password("wrong")
    assert (user.is_active, user.is_staff, user.is_superuser) == (True, False, False)
    assert stored.date_joined is not None


async def test_create_superuser_sets_the_flags(client: httpx.AsyncClient) -> None:
    root = await User.objects.create_superuser("root", password=PASSWORD)
    assert root.is_staff and root.is_superuser


async def test_permissions_come_from_the_user_and_their_groups(client: httpx.AsyncClient) -> None:
    user = await User.objects.create_user("ada", password=PASSWORD)
    editors = await Group.objects.create(name="editors")
    assert not await user.has_perm("book.add")
    await editors.grant("book.add", "book.change")
    await user.add_to_group(editors)
    await user.grant("author.view")
    assert await user.has_perm("book.add")
    assert await user.has_perm("author.view")
    assert not await user.has_perm("book.delete")
    assert await user.get_all_permissions() == {"book.add", "book.change", "author.view"}
    await user.remove_from_group(editors)
    assert await user.get_all_permissions() == {"author.view"}
    await user.revoke("author.view")
    assert await user.get_all_permissions() == set()


async def test_granting_twice_is_harmless(client: httpx.AsyncClient) -> None:
    user = await User.objects.create_user("ada", password=PASSWORD)
    await user.grant("book.view")
    await user.grant("book.view")
    assert await user.get_all_permissions() == {"book.view"}


async def test_superuser_has_every_permission_inactive_user_none(client: httpx.AsyncClient) -> None:
    root = await User.objects.create_superuser("root", password=PASSWORD)
    assert await root.has_perm("book.delete")
    assert "auth_user.change" in await root.get_all_permissions()
    sleeper = await User.objects.create_user("sleeper", password=PASSWORD, is_active=False)
    await sleeper.grant("book.view")
    assert not await sleeper.has_perm("book.view")
    assert await sleeper.get_all_permissions() == set()


async def test_every_table_gets_four_permissions(client: httpx.AsyncClient) -> None:
    from fastmango.auth import Permission

    codenames = set(await Permission.objects.values_list("codename", flat=True))
    for table in ("book", "author", "auth_user", "auth_group"):
        assert {f"{table}.{action}" for action in ("view", "add", "change", "delete")} <= codenames


async def test_granting_an_unknown_permission_names_it(client: httpx.AsyncClient) -> None:
    user = await User.objects.create_user("ada", password=PASSWORD)
    with pytest.raises(UnknownPermission, match=r"'boook\.add'"):
        await user.grant("boook.add")
    group = await Group.objects.create(name="g")
    with pytest.raises(UnknownPermission, match=r"'book\.publish'"):
        await group.grant("book.publish")


def test_hash_and_verify_password() -> None:
    hashed = hash_password("s3cret")
    assert hashed != hash_password("s3cret")  # salted
    assert verify_password("s3cret", hashed)
    assert not verify_password("S3cret", hashed)
    assert not verify_password("s3cret", "not-a-hash")


def test_outdated_hash_parameters_are_upgraded() -> None:
    configure_password_hashing(time_cost=1, memory_kib=1024)
    old = hash_password("pw")
    configure_password_hashing(time_cost=2, memory_kib=2048)
    try:
        matches, new_hash = verify_and_update("pw", old)
        assert matches
        assert new_hash is not None and new_hash != old
        assert verify_and_update("pw", new_hash) == (True, None)
    finally:
        configure_password_hashing(time_cost=1, memory_kib=1024)
