"""AI tools of the blog: posts as model tools, a search function and a query tool.

Each runs with the permissions of the user who asks. ``post_list``/``post_get`` serve the posts resource of the
REST API (blog/api.py): the same rows as ``GET /posts`` for the same user (drafts only with ``post.view``).
"""

from blog.api import post_resource
from blog.models import Post
from fastmango import tool
from fastmango.ai import ToolContext, expose_model
from fastmango.db import QuerySet

expose_model(post_resource, actions=("list", "get"))


@tool
async def search_posts(ctx: ToolContext, query: str, limit: int = 5) -> list[dict[str, object]]:
    """Search published posts by words in their title.

    Args:
        query: Words to look for in the title.
        limit: How many posts at most.
    """
    posts = (
        Post.objects.filter(published=True)
        .filter(title__icontains=query)
        .select_related("author")
        .order_by("-created_at")[: max(1, min(limit, 20))]
    )
    return [{"id": p.id, "title": p.title, "author": p.author.name} for p in await posts]


@tool(permissions=["post.view"], max_rows=10)
def drafts() -> QuerySet[Post]:
    """Posts not published yet (needs post.view)."""
    return Post.objects.filter(published=False).order_by("-created_at")
