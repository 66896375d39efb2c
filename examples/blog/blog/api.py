"""The blog's REST API: posts, authors and tags through CRUDRouter. Reads are public; writes need the
model's permission (``post.add``, ``post.change``...).

Posts are a ModelResource, declared once: the router below and the AI tools (blog/tools.py) serve the same rows
with the same permissions. Drafts are visible only to users with ``post.view``, on every surface.
"""

from blog.models import Author, Post, Tag
from fastmango.api import Caller, CRUDRouter, ModelResource
from fastmango.db import QuerySet


async def visible_posts(caller: Caller) -> QuerySet[Post]:
    """Every post for users with ``post.view``; published posts for everyone else."""
    if caller.user is not None and await caller.user.has_perm("post.view"):
        return Post.objects.all()
    return Post.objects.filter(published=True)


post_resource = ModelResource(
    Post,
    queryset=visible_posts,
    filter_fields=["title", "published", "created_at", "author_id", "author__name"],
    search_fields=["title", "body"],
    ordering_fields=["created_at", "title", "id"],
    select_related=["author"],
    permissions="writes",
)
posts = CRUDRouter(post_resource, prefix="/posts")
authors = CRUDRouter(
    Author,
    prefix="/authors",
    filter_fields=["name"],
    search_fields=["name", "bio"],
    ordering_fields=["name", "id"],
    permissions="writes",
)
tags = CRUDRouter(Tag, prefix="/tags", filter_fields=["name"], ordering_fields=["name"], permissions="writes")
