from blog.seed import DEMO_PASSWORD, DEMO_USERNAME, seed


async def test_the_assistant_answers_with_the_blogs_tools(client) -> None:
    await seed()
    response = await client.post("/assistant/ask", params={"question": "What did Ada write?"})
    assert response.status_code == 200, response.text
    assert "search_posts" in str(response.json()["answer"])


async def test_the_assistant_offers_the_drafts_tool_only_to_users_who_may_see_drafts(client) -> None:
    from blog.agents import assistant

    from fastmango.auth import User

    await seed()
    anonymous = await assistant.run("anything")
    demo = await User.objects.get(username=DEMO_USERNAME)
    signed_in = await assistant.run("anything", user=demo)
    assert "post_list" in str(anonymous.output)  # published posts are public: the resource scopes the rows
    assert "drafts" not in str(anonymous.output)
    # demo may change posts: the admin actions publish/unpublish are offered too, and wait for approval.
    assert "post_publish" in str(signed_in.output)  # DeferredToolRequests: a proposed write asks first
    assert "post_list" in str(signed_in.all_messages())
    assert "drafts" in str(signed_in.all_messages())
    assert DEMO_PASSWORD


async def test_the_assistant_streams_server_sent_events(client) -> None:
    await seed()
    async with client.stream("GET", "/assistant/stream", params={"question": "hi"}) as response:
        body = "".join([chunk async for chunk in response.aiter_text()])
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "event: tool_call" in body
    assert "event: output" in body
