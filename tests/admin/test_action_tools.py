"""Admin actions as AI tools (fastmango/admin/action_tools.py): the same permission, approval, the history."""

from __future__ import annotations

import httpx

from fastmango.ai import ToolContext, registry
from fastmango.api.history import history
from fastmango.auth import User
from tests.admin.conftest import headers_for, seed
from tests.db.models import Book


async def test_an_action_is_a_tool_under_its_permission_that_waits_for_approval(client: httpx.AsyncClient) -> None:
    spec = registry.get("book_lengthen")
    assert spec.permissions == ("book.change",)
    assert spec.requires_approval and not spec.allow_anonymous
    assert "1000 pages" in spec.description
    data = await seed()
    await headers_for(client, "viewer", "book.view", staff=False)
    await headers_for(client, "changer", "book.view", "book.change", staff=False)
    viewer, changer = await User.objects.get(username="viewer"), await User.objects.get(username="changer")
    assert not await spec.allowed_for(viewer)
    assert await spec.allowed_for(changer)
    pks = [book.id for book in data["books"]]
    result = await spec.call(ToolContext(user=changer, request=None, run=None), {"pks": pks})
    assert result["done"] == 3  # the secret book is hidden from this user
    assert (await Book.objects.get(pk=pks[0])).pages == 1000
    [entry] = await history.of(Book, pks[0])
    assert (entry.action, entry.surface, entry.via, entry.on_behalf_of) == ("action", "ai", "book_lengthen", "changer")
