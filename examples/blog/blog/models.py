"""Tables of the blog: authors write posts; posts carry tags.

The examples show in the OpenAPI document (/docs) and are the first bodies schemathesis sends.
"""

import datetime

from fastmango.db import Field, Model, Relationship


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Author(Model, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, max_length=100, schema_extra={"examples": ["Ada Lovelace"]})
    bio: str = Field(default="", schema_extra={"examples": ["Writes about engines."]})
    posts: list["Post"] = Relationship(back_populates="author")


class PostTag(Model, table=True):
    post_id: int | None = Field(default=None, foreign_key="post.id", primary_key=True, ondelete="CASCADE")
    tag_id: int | None = Field(default=None, foreign_key="tag.id", primary_key=True, ondelete="CASCADE")


class Tag(Model, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=50, schema_extra={"examples": ["rust"]})
    posts: list["Post"] = Relationship(back_populates="tags", link_model=PostTag)


class Post(Model, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200, schema_extra={"examples": ["Notes on the Analytical Engine"]})
    body: str = Field(default="", schema_extra={"examples": ["It weaves algebraic patterns."]})
    created_at: datetime.datetime = Field(default_factory=utcnow, schema_extra={"examples": ["2025-01-31T09:30:00Z"]})
    published: bool = Field(default=False, schema_extra={"examples": [True]})
    author_id: int = Field(foreign_key="author.id", index=True, schema_extra={"examples": [1]})
    author: Author = Relationship(back_populates="posts")
    tags: list[Tag] = Relationship(back_populates="posts", link_model=PostTag)
