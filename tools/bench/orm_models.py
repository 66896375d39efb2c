"""The benchmark's two tables, ``author`` and ``book``, declared twice: as fastmango models and as plain
SQLAlchemy models in a registry of their own, so that neither ORM's mapping interferes with the other's.

No ``from __future__ import annotations`` here: SQLModel cannot resolve relationship annotations with it.
"""

from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from fastmango.db import Field, Model, Relationship


class Author(Model, table=True):
    """A fastmango author."""

    id: int | None = Field(default=None, primary_key=True)
    name: str
    books: list["Book"] = Relationship(back_populates="author")


class Book(Model, table=True):
    """A fastmango book."""

    id: int | None = Field(default=None, primary_key=True)
    title: str
    pages: int
    author_id: int = Field(foreign_key="author.id")
    author: Author = Relationship(back_populates="books")


class SaBase(DeclarativeBase):
    """Plain SQLAlchemy declarative base, apart from SQLModel's metadata."""


class SaAuthor(SaBase):
    """The ``author`` table as SQLAlchemy's documentation maps it."""

    __tablename__ = "author"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    books: Mapped[list["SaBook"]] = relationship(back_populates="author")


class SaBook(SaBase):
    """The ``book`` table as SQLAlchemy's documentation maps it."""

    __tablename__ = "book"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    pages: Mapped[int]
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[SaAuthor] = relationship(back_populates="books")
