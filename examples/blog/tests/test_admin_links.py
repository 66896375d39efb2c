"""The admin's tag form shows and changes only the posts the caller may see: a draft linked to a tag stays hidden
(its key is not read) and untouched (a write replaces only the visible links) for a user without post.view."""

from blog.models import Post, PostTag, Tag
from blog.seed import seed

from fastmango.auth import User

PASSWORD = "a long test password"


async def _headers(client, username: str, *permissions: str) -> dict[str, str]:
    user = await User.objects.create_user(username, password=PASSWORD, is_staff=True)
    await user.grant(*permissions)
    login = await client.post("/auth/token", data={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def test_tag_posts_leave_drafts_out_and_untouched(client) -> None:
    await seed()
    draft = await Post.objects.get(published=False)
    published = await Post.objects.filter(published=True).order_by("id").first()
    tag = await Tag.objects.get(name="python")
    await PostTag.objects.create(post_id=draft.id, tag_id=tag.id)
    headers = await _headers(client, "tagger", "tag.view", "tag.change")

    shown = (await client.get(f"/admin/api/models/tag/{tag.id}", headers=headers)).json()["posts"]
    assert draft.id not in shown

    refused = await client.patch(f"/admin/api/models/tag/{tag.id}", json={"posts": [draft.id]}, headers=headers)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "posts"

    changed = await client.patch(f"/admin/api/models/tag/{tag.id}", json={"posts": [published.id]}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["posts"] == [published.id]
    linked = set(await PostTag.objects.filter(tag_id=tag.id).values_list("post_id", flat=True))
    assert linked == {draft.id, published.id}
