"""Models used by the ORM tests: authors, publishers, books, tags (many-to-many) and a self-reference."""

import datetime
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import UniqueConstraint

from fastmango.db import Field, Manager, Model, QuerySet, Relationship


class Publisher(Model, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    authors: list["Author"] = Relationship(back_populates="publisher")


class Author(Model, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    email: str | None = Field(default=None, unique=True)
    publisher_id: int | None = Field(default=None, foreign_key="publisher.id")
    publisher: Publisher | None = Relationship(back_populates="authors")
    books: list["Book"] = Relationship(back_populates="author")


class BookTag(Model, table=True):
    book_id: int | None = Field(default=None, foreign_key="book.id", primary_key=True)
    tag_id: int | None = Field(default=None, foreign_key="tag.id", primary_key=True)


class Tag(Model, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    books: list["Book"] = Relationship(back_populates="tags", link_model=BookTag)


class PublishedManager(Manager["Book"]):
    def get_queryset(self) -> "QuerySet[Book]":
        return super().get_queryset().filter(published__isnull=False)


class Book(Model, table=True):
    __table_args__ = (UniqueConstraint("author_id", "title", name="uq_book_author_title"),)

    id: int | None = Field(default=None, primary_key=True)
    title: str
    pages: int = 0
    price: Decimal = Field(default=Decimal("0"), max_digits=8, decimal_places=2)
    published: datetime.date | None = None
    author_id: int = Field(foreign_key="author.id")
    author: Author = Relationship(back_populates="books")
    tags: list[Tag] = Relationship(back_populates="books", link_model=BookTag)

    published_books: ClassVar[PublishedManager] = PublishedManager()
