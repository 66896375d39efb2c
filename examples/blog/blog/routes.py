"""Hand-written endpoints of the blog, on the ORM."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from blog.models import Author, Post
from fastmango.db import Count, Q

router = APIRouter(tags=["blog"])


class AuthorOut(BaseModel):
    id: int
    name: str


class PostOut(BaseModel):
    id: int
    title: str
    published: bool
    author: AuthorOut


class AuthorStats(BaseModel):
    id: int
    name: str
    n_posts: int


@router.get("/hello", operation_id="hello")
async def hello(request: Request) -> dict[str, str]:
    """Say hello."""
    return {"message": request.app.settings.greeting}


@router.get("/posts/latest", operation_id="latest_posts")
async def latest_posts(limit: Annotated[int, Query(ge=1, le=100)] = 10) -> list[PostOut]:
    """The latest published posts with their authors (one query, joined)."""
    posts = await Post.objects.filter(published=True).select_related("author").order_by("-created_at")[:limit]
    return [PostOut.model_validate(post, from_attributes=True) for post in posts]


@router.get("/authors/stats", operation_id="author_stats")
async def author_stats() -> list[AuthorStats]:
    """Authors with their number of published posts, most prolific first."""
    rows = await (
        Author.objects.annotate(n_posts=Count("posts", filter=Q(posts__published=True)))
        .order_by("-n_posts", "name")
        .values("id", "name", "n_posts")
    )
    return [AuthorStats(**row) for row in rows]
