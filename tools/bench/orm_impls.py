"""The benchmarked operations written with fastmango and with SQLAlchemy's async ORM as its docs show.

Each implementation has the same five async methods; the raw-driver versions are in ``orm_raw``. SQLAlchemy
Core runs only the 20-row read with its relation, for the in-process CPU table.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import joinedload

from fastmango.db import connect, create_all, disconnect
from tools.bench.orm_models import Book, SaAuthor, SaBook

BookValues = tuple[str, int, int]
"""A book to insert: title, pages, author_id."""

PAGE_SIZE = 20


def book_dicts(rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows of ``(book id, title, pages, author_id, author id, author name)`` built into dicts, the author
    nested: what an ORM's caller gets, made the same way by every row of the CPU table that reads tuples."""
    return [
        {"id": r[0], "title": r[1], "pages": r[2], "author_id": r[3], "author": {"id": r[4], "name": r[5]}}
        for r in rows
    ]


class Implementation(ABC):
    """One way of running the benchmark's operations. Timed methods return what the library returns."""

    name: str

    @abstractmethod
    async def start(self) -> None:
        """Open connections (not timed)."""

    @abstractmethod
    async def close(self) -> None:
        """Close connections (not timed)."""

    @abstractmethod
    async def get(self, pk: int) -> Any:
        """The book with this primary key."""

    @abstractmethod
    async def filter_related(self, min_pages: int) -> Sequence[Any]:
        """The first ``PAGE_SIZE`` books by id with more than ``min_pages`` pages, each with its author."""

    @abstractmethod
    async def create(self, values: BookValues) -> Any:
        """Insert one book; the result carries its new primary key."""

    @abstractmethod
    async def bulk_create(self, rows: Sequence[BookValues]) -> Any:
        """Insert many books in one transaction."""

    @abstractmethod
    async def count(self, min_pages: int) -> int:
        """The number of books with more than ``min_pages`` pages."""

    # Normalizers for the cross-check before timing; never timed.
    @abstractmethod
    def book_row(self, book: Any) -> tuple[Any, ...]:
        """``(id, title, pages, author_id)`` of a result of :meth:`get`."""

    @abstractmethod
    def joined_row(self, book: Any) -> tuple[Any, ...]:
        """``(id, author id, author name)`` of one item of :meth:`filter_related`."""

    @abstractmethod
    def created_pk(self, result: Any) -> int:
        """The primary key in a result of :meth:`create`."""

    @abstractmethod
    def bulk_pks(self, result: Any) -> list[Any] | None:
        """The primary keys set by :meth:`bulk_create`, or None when the implementation does not fetch them."""


class OrmRows:
    """Normalizers for ORM entities (a ``Book`` with an ``author``)."""

    def book_row(self, book: Any) -> tuple[Any, ...]:
        return (book.id, book.title, book.pages, book.author_id)

    def joined_row(self, book: Any) -> tuple[Any, ...]:
        return (book.id, book.author.id, book.author.name)

    def created_pk(self, result: Any) -> int:
        return int(result.id)

    def bulk_pks(self, result: Any) -> list[Any] | None:
        return [book.id for book in result]


class FastmangoImpl(OrmRows, Implementation):
    """``Book.objects``: the fastmango way."""

    name = "fastmango"

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.pool_size = pool_size

    async def start(self) -> None:
        await connect(self.url, pool_size=self.pool_size)

    async def create_tables(self) -> None:
        """Create the benchmark's tables (fastmango's ``create_all``)."""
        await create_all()

    async def close(self) -> None:
        await disconnect()

    async def get(self, pk: int) -> Book:
        return await Book.objects.get(pk=pk)

    async def filter_related(self, min_pages: int) -> list[Book]:
        return await Book.objects.filter(pages__gt=min_pages).select_related("author").order_by("id")[:PAGE_SIZE]

    async def create(self, values: BookValues) -> Book:
        title, pages, author_id = values
        return await Book.objects.create(title=title, pages=pages, author_id=author_id)

    async def bulk_create(self, rows: Sequence[BookValues]) -> list[Book]:
        books = [Book(title=title, pages=pages, author_id=author_id) for title, pages, author_id in rows]
        return await Book.objects.bulk_create(books)

    async def count(self, min_pages: int) -> int:
        return await Book.objects.filter(pages__gt=min_pages).count()


class SqlAlchemyImpl(OrmRows, Implementation):
    """SQLAlchemy 2 async ORM as its documentation shows: default engine options, one session per operation."""

    name = "SQLAlchemy"

    def __init__(self, url: str, *, pool_size: int | None = None) -> None:
        self.url = url
        self.pool_size = pool_size
        self.engine: AsyncEngine | None = None

    async def start(self) -> None:
        options = {} if self.pool_size is None else {"pool_size": self.pool_size}
        self.engine = create_async_engine(self.url, **options)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()

    async def get(self, pk: int) -> SaBook:
        async with self.sessions() as session:
            return (await session.execute(select(SaBook).where(SaBook.id == pk))).scalar_one()

    async def filter_related(self, min_pages: int) -> Sequence[SaBook]:
        statement = (
            select(SaBook)
            .options(joinedload(SaBook.author))
            .where(SaBook.pages > min_pages)
            .order_by(SaBook.id)
            .limit(PAGE_SIZE)
        )
        async with self.sessions() as session:
            return (await session.execute(statement)).scalars().all()

    async def create(self, values: BookValues) -> SaBook:
        title, pages, author_id = values
        book = SaBook(title=title, pages=pages, author_id=author_id)
        async with self.sessions() as session:
            session.add(book)
            await session.commit()
        return book

    async def bulk_create(self, rows: Sequence[BookValues]) -> list[SaBook]:
        books = [SaBook(title=title, pages=pages, author_id=author_id) for title, pages, author_id in rows]
        async with self.sessions() as session:
            session.add_all(books)
            await session.commit()
        return books

    async def count(self, min_pages: int) -> int:
        statement = select(func.count()).select_from(SaBook).where(SaBook.pages > min_pages)
        async with self.sessions() as session:
            return int((await session.execute(statement)).scalar_one())

    def core(self) -> SqlAlchemyCore:
        """SQLAlchemy Core on this implementation's engine (after :meth:`start`)."""
        if self.engine is None:
            raise RuntimeError("SqlAlchemyImpl.core() before start()")
        return SqlAlchemyCore(self.engine)


class SqlAlchemyCore:
    """SQLAlchemy Core as its documentation shows: a ``select()`` of the tables' columns built per call and
    run on a connection of the engine, the rows built into :func:`book_dicts`. Only the 20-row read with its
    relation (the CPU table)."""

    name = "SQLAlchemy Core"

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.book = cast(Table, SaBook.__table__)
        self.author = cast(Table, SaAuthor.__table__)

    async def filter_related_dicts(self, min_pages: int) -> list[dict[str, Any]]:
        """The first ``PAGE_SIZE`` books by id with more than ``min_pages`` pages, each with its author."""
        book, author = self.book, self.author
        statement = (
            select(book.c.id, book.c.title, book.c.pages, book.c.author_id, author.c.id, author.c.name)
            .join(author, book.c.author_id == author.c.id)
            .where(book.c.pages > min_pages)
            .order_by(book.c.id)
            .limit(PAGE_SIZE)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(statement)).all()
        return book_dicts(rows)
