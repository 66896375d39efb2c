"""AI tools of the blog: posts as a model tool, a search function and a query tool.

Each runs with the permissions of the user who asks: ``post_list``/``post_get`` need ``post.view``.
"""

from blog.models import Post
from fastmango import tool
from fastmango.ai import ToolContext, expose_model
from fastmango.db import QuerySet

expose_model(
    Post,
    actions=("list", "get"),
    filter_fields=["title", "published", "author__name"],
    search_fields=["title", "body"],
    ordering_fields=["created_at", "title"],
    select_related=["author"],
)


@tool
async def search_posts(ctx: ToolContext, query: str, limit: int = 5) -> list[dict[str, object]]:
    """Search published posts by words in their title or body.

    Args:
        query: Words to look for.
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
