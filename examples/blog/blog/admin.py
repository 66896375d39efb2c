"""The blog's admin: posts (through the same resource as the API and the AI tools, so drafts stay hidden from
users without ``post.view``), authors and tags. Served at /admin; log in as a staff user (``demo``).
"""

from blog.api import authors, post_resource, tags
from blog.models import Post
from fastmango import admin
from fastmango.api import Caller
from fastmango.db import QuerySet


@admin.action(permission="post.change", label="Publish", confirm=True)
async def publish(caller: Caller, queryset: QuerySet[Post]) -> int:
    """Publish the selected posts."""
    return await queryset.update(published=True)


@admin.action(permission="post.change", label="Unpublish", confirm=True)
async def unpublish(caller: Caller, queryset: QuerySet[Post]) -> int:
    """Turn the selected posts back into drafts."""
    return await queryset.update(published=False)


admin.register(
    post_resource,
    list_display=["id", "title", "author", "published", "created_at"],
    list_filter=["published", "author", "tags", "author__name"],
    search_fields=["title", "body"],
    ordering=["-created_at"],
    date_hierarchy="created_at",
    readonly_fields=["created_at"],
    fieldsets=[(None, ["title", "author_id", "tags", "body"]), ("Publishing", ["published", "created_at"])],
    autocomplete_fields=["author_id", "tags"],
    actions=[publish, unpublish],
)
admin.register(authors.resource, list_display=["id", "name"], search_fields=["name", "bio"], ordering=["name"])
admin.register(tags.resource, list_display=["id", "name"], search_fields=["name"], ordering=["name"])
