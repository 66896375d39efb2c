"""The blog's REST API: posts, authors and tags through CRUDRouter. Reads are public; writes need the
model's permission (``post.add``, ``post.change``...)."""

from blog.models import Author, Post, Tag
from fastmango.api import CRUDRouter

posts = CRUDRouter(
    Post,
    prefix="/posts",
    filter_fields=["title", "published", "created_at", "author_id", "author__name"],
    search_fields=["title", "body"],
    ordering_fields=["created_at", "title", "id"],
    select_related=["author"],
    permissions="writes",
)
authors = CRUDRouter(
    Author,
    prefix="/authors",
    filter_fields=["name"],
    search_fields=["name", "bio"],
    ordering_fields=["name", "id"],
    permissions="writes",
)
tags = CRUDRouter(Tag, prefix="/tags", filter_fields=["name"], ordering_fields=["name"], permissions="writes")
