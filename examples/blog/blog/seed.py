"""Demo data for trying the blog: ``python -m blog.seed`` (``make dev`` runs it). Safe to run twice.

Creates the staff user ``demo`` (password ``demo-password``, allowed to view, add and change posts, not to delete
them), two authors, tags and a few posts. Log in at http://127.0.0.1:8000/admin, or through the "Authorize"
button of http://127.0.0.1:8000/docs.
"""

import asyncio

import fastmango
from blog.models import Author, Post, PostTag, Tag
from fastmango.auth import User
from fastmango.db import disconnect, transaction

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"


async def seed() -> None:
    if not await User.objects.filter(username=DEMO_USERNAME).exists():
        demo = await User.objects.create_user(
            DEMO_USERNAME, password=DEMO_PASSWORD, email="demo@example.com", is_staff=True
        )
        await demo.grant("post.view", "post.add", "post.change")
    if await Post.objects.exists():
        return
    async with transaction():
        ada = await Author.objects.create(name="Ada Lovelace", bio="Wrote the first program.")
        grace = await Author.objects.create(name="Grace Hopper", bio="Found the first bug.")
        python, history = await Tag.objects.bulk_create([Tag(name="python"), Tag(name="history")])
        posts = await Post.objects.bulk_create(
            [
                Post(title="Notes on the Analytical Engine", body="...", author_id=ada.id, published=True),
                Post(title="Bernoulli numbers", body="...", author_id=ada.id, published=True),
                Post(title="The moth in the relay", body="...", author_id=grace.id, published=True),
                Post(title="COBOL, a draft", body="...", author_id=grace.id),
            ]
        )
        await PostTag.objects.bulk_create(
            [PostTag(post_id=posts[0].id, tag_id=history.id), PostTag(post_id=posts[2].id, tag_id=python.id)]
        )


async def main() -> None:
    try:
        await seed()
    finally:
        await disconnect()


if __name__ == "__main__":
    fastmango.setup()
    asyncio.run(main())
    print(f"Demo data ready. Log in at /admin or /docs as {DEMO_USERNAME!r} with password {DEMO_PASSWORD!r}.")
