"""Tool permissions (fastmango/ai/registry.py): one permission decision, loaded once per agent run."""

from __future__ import annotations

import httpx

from fastmango.ai import agent, expose_model, registry
from fastmango.testing import capture_queries
from tests.ai.conftest import make_user, seed_books
from tests.ai.test_tools import script, tool_returns
from tests.db.models import Author, Book


def permission_queries(statements: list[str]) -> list[str]:
    return [sql for sql in statements if "auth_permission" in sql]


async def test_an_agent_run_with_four_tools_and_three_calls_issues_one_permission_query(
    client: httpx.AsyncClient,
) -> None:
    await seed_books()
    expose_model(Book)
    expose_model(Author)
    reader = await make_user("reader", "book.view", "author.view")
    model, offered, seen = script(("book_list", {}), ("book_get", {"pk": 1}), ("author_list", {}), "done")
    support = agent("support", tools=["book_*", "author_*"], model=model)
    with capture_queries() as queries:
        result = await support.run("list books", user=reader)
    assert result.output == "done"
    assert len(offered) == 4  # the tools were offered (and checked) before each of the 4 model requests
    assert sorted(tool.name for tool in offered[0].function_tools) == [
        "author_get",
        "author_list",
        "book_get",
        "book_list",
    ]
    assert len(tool_returns(seen[-1])) == 3  # each call checked again
    assert len(permission_queries(list(queries))) == 1


async def test_each_run_loads_permissions_afresh(client: httpx.AsyncClient) -> None:
    expose_model(Book, actions=("list",))
    clerk = await make_user("clerk")
    model, offered, _ = script("done")
    support = agent("support", tools=["book_*"], model=model)
    await support.run("hi", user=clerk)
    await clerk.grant("book.view")
    await support.run("hi", user=clerk)
    assert [len(info.function_tools) for info in offered] == [0, 1]


async def test_listing_the_allowed_tools_outside_a_run_costs_one_query(client: httpx.AsyncClient) -> None:
    expose_model(Book)
    expose_model(Author)
    reader = await make_user("reader", "book.view")
    with capture_queries() as queries:
        allowed = await registry.allowed(reader)
    assert [spec.name for spec in allowed] == ["book_get", "book_list"]
    assert len(queries) == 1
