"""One posts resource (blog/api.py) behind GET /posts and the post_list/post_get AI tools: the same rows and the
same refusals for the same caller, and drafts only for users with post.view."""

import json
from typing import Any

from blog.models import Post
from blog.seed import DEMO_PASSWORD, DEMO_USERNAME, seed

from fastmango.ai import ToolContext
from fastmango.ai.registry import registry
from fastmango.api.serialize import dumps
from fastmango.auth import User
from fastmango.core.errors import ProblemError


async def tool(name: str, user: User | None, **arguments: Any) -> Any:
    """The tool's result as the model receives it (JSON)."""
    result = await registry.get(name).call(ToolContext(user=user, request=None, run=None), arguments)
    return json.loads(dumps(result))


async def test_drafts_are_hidden_from_anonymous_readers_over_http_and_as_tools(client) -> None:
    await seed()
    draft = await Post.objects.get(published=False)
    anonymous = (await client.get("/posts", params={"published": "false"})).json()
    assert anonymous["items"] == [] and anonymous["total"] == 0
    assert (await client.get(f"/posts/{draft.id}")).status_code == 404
    assert (await tool("post_list", None, filters={"published": False}))["items"] == []
    try:
        await tool("post_get", None, pk=draft.id)
    except ProblemError as refused:
        assert refused.status == 404
    else:
        raise AssertionError("an anonymous tool call read a draft")

    login = await client.post("/auth/token", data={"username": DEMO_USERNAME, "password": DEMO_PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    reader = (await client.get("/posts", params={"published": "false"}, headers=headers)).json()
    assert [post["title"] for post in reader["items"]] == ["COBOL, a draft"]
    demo = await User.objects.get(username=DEMO_USERNAME)
    assert (await tool("post_list", demo, filters={"published": False}))["items"] == reader["items"]
    assert await tool("post_get", demo, pk=draft.id) == (await client.get(f"/posts/{draft.id}", headers=headers)).json()


async def test_every_caller_gets_the_same_rows_over_http_and_as_a_tool(client) -> None:
    await seed()
    http = (await client.get("/posts", params={"ordering": "title", "limit": 2})).json()
    as_tool = await tool("post_list", None, ordering=["title"], limit=2)
    assert as_tool == {"items": http["items"], "total": http["total"]}
    assert http["total"] == 3  # the three published posts
