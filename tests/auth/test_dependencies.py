"""require_permission (fastmango/auth/dependencies.py): one query per request, names what it needs."""

from __future__ import annotations

import httpx
from fastapi import Depends

from fastmango import FastMango
from fastmango.auth import User, check, require_permission, required_permissions
from fastmango.testing import capture_queries
from tests.auth.conftest import PASSWORD, bearer, tokens_for


def permission_queries(statements: list[str]) -> list[str]:
    return [sql for sql in statements if "auth_permission" in sql]


def test_the_dependency_carries_the_codenames_it_needs() -> None:
    assert required_permissions(require_permission("book.add", "book.change")) == ("book.add", "book.change")
    assert required_permissions(lambda: None) == ()


async def test_a_request_loads_the_users_permissions_once(app: FastMango) -> None:
    @app.post("/books/bulk", dependencies=[Depends(require_permission("book.add", "book.change"))])
    async def bulk(user: User = Depends(require_permission("book.view"))) -> dict[str, bool]:
        return {"ok": await check(user, "book.add") and await user.has_perm("book.view")}

    from tests.auth.conftest import started

    async with started(app) as client:
        ada = await User.objects.create_user("ada", password=PASSWORD)
        await ada.grant("book.add", "book.change", "book.view")
        headers = bearer((await tokens_for(client, "ada"))["access_token"])
        with capture_queries() as queries:
            response = await client.post("/books/bulk", headers=headers)
        assert response.json() == {"ok": True}
        assert len(permission_queries(list(queries))) == 1


async def test_permissions_are_not_cached_from_one_request_to_the_next(client: httpx.AsyncClient) -> None:
    ada = await User.objects.create_user("ada", password=PASSWORD)
    headers = bearer((await tokens_for(client, "ada"))["access_token"])
    refused = await client.post("/books", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Missing permission book.add."
    await ada.grant("book.add")  # outside any request, as another process would
    assert (await client.post("/books", headers=headers)).status_code == 200
    await ada.revoke("book.add")
    assert (await client.post("/books", headers=headers)).status_code == 403
