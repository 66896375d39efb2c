"""Route tools (fastmango/ai/route_tools.py) know the permissions of their endpoint."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, Depends

import fastmango
from fastmango.ai import ToolContext, agent, expose_routes
from fastmango.ai.toolset import ToolPermissionDenied, run_tool
from fastmango.auth import require_permission
from tests.ai.conftest import make_user, seed_books
from tests.ai.test_tools import retries, script, tool_returns
from tests.db.models import Book


def test_a_route_tool_needs_the_permissions_of_its_endpoint_and_router(app: fastmango.FastMango) -> None:
    router = APIRouter(prefix="/authors", dependencies=[Depends(require_permission("author.view"))])

    @router.delete("/{pk}", operation_id="remove_author", dependencies=[Depends(require_permission("author.delete"))])
    async def remove_author(pk: int) -> None:
        """Remove an author."""

    api = APIRouter(prefix="/v1", dependencies=[Depends(require_permission("author.change"))])
    api.include_router(router)
    app.include_router(api)
    [restock] = expose_routes(app, operation_ids=["restock"])
    [remove] = expose_routes(app, operation_ids=["remove_author"], permissions=["book.view"])
    assert restock.permissions == ("book.change",)
    assert remove.permissions == ("book.view", "author.change", "author.view", "author.delete")
    assert remove.metadata == {"method": "DELETE", "path": "/v1/authors/{pk}"}


async def test_a_route_tool_behind_require_permission_is_offered_only_to_holders(
    client: httpx.AsyncClient, app: fastmango.FastMango
) -> None:
    await seed_books()
    [spec] = expose_routes(app, operation_ids=["restock"])
    plain = await make_user("plain", "book.view")
    model, offered, seen = script(("restock", {"pk": 1, "amount": 5}), "done")
    await agent("a", tools=["restock"], model=model).run("restock", user=plain)
    assert offered[0].function_tools == []
    assert "Unknown tool name: 'restock'" in str(tool_returns(seen[-1]) + retries(seen[-1]))
    with pytest.raises(ToolPermissionDenied):  # a forced call is refused before the request is made
        await run_tool(spec, ToolContext(user=plain, request=None, run=None), {"pk": 1, "amount": 5})
    assert (await Book.objects.get(pk=1)).pages == 412

    clerk = await make_user("clerk", "book.change")
    model, offered, seen = script(("restock", {"pk": 1, "amount": 5}), "done")
    await agent("a", tools=["restock"], model=model).run("restock", user=clerk)
    assert [tool.name for tool in offered[0].function_tools] == ["restock"]
    assert tool_returns(seen[-1]) == [{"pk": 1, "pages": 417}]
