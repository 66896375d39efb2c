"""Models declared under postponed evaluation (PEP 563): every annotation below is a string, as ruff's FA/UP rules
would have it. Relationships name models declared further down (``FaBook``, ``FaAgent``), quoted or not."""

from __future__ import annotations

import datetime
import enum

from fastmango.db import Field, Model, Relationship


class FaGenre(enum.Enum):
    novel = "novel"
    essay = "essay"


class FaAuthor(Model, table=True):
    __tablename__ = "fa_author"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    born: datetime.date | None = None
    agent_id: int | None = Field(default=None, foreign_key="fa_agent.id")
    agent: FaAgent | None = Relationship(back_populates="authors")  # a to-one to a model declared below
    books: list[FaBook] = Relationship(back_populates="author")  # a to-many to a model declared below


class FaBookTag(Model, table=True):
    __tablename__ = "fa_booktag"

    book_id: int | None = Field(default=None, foreign_key="fa_book.id", primary_key=True)
    tag_id: int | None = Field(default=None, foreign_key="fa_tag.id", primary_key=True)


class FaTag(Model, table=True):
    __tablename__ = "fa_tag"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    books: list["FaBook"] = Relationship(back_populates="tags", link_model=FaBookTag)  # noqa: UP037


class FaBook(Model, table=True):
    __tablename__ = "fa_book"

    id: int | None = Field(default=None, primary_key=True)
    title: str
    genre: FaGenre = FaGenre.novel
    written: datetime.datetime | None = None
    author_id: int | None = Field(default=None, foreign_key="fa_author.id")
    author: FaAuthor | None = Relationship(back_populates="books")
    tags: list[FaTag] = Relationship(back_populates="books", link_model=FaBookTag)


class FaAgent(Model, table=True):
    __tablename__ = "fa_agent"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    authors: list[FaAuthor] = Relationship(back_populates="agent")


TABLES = ["fa_booktag", "fa_book", "fa_tag", "fa_author", "fa_agent"]
