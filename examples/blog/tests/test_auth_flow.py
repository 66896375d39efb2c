from blog.seed import DEMO_PASSWORD, DEMO_USERNAME, seed


async def test_the_demo_user_logs_in_and_sees_their_permissions(client) -> None:
    await seed()
    login = await client.post("/auth/token", data={"username": DEMO_USERNAME, "password": DEMO_PASSWORD})
    assert login.status_code == 200
    token = login.json()["access_token"]
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == DEMO_USERNAME
    assert me.json()["permissions"] == ["post.add", "post.change", "post.view"]


async def test_seeding_twice_adds_nothing(client) -> None:
    from blog.models import Post

    await seed()
    await seed()
    assert await Post.objects.count() == 4
