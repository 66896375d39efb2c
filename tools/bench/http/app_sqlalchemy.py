"""App 2: FastAPI with SQLAlchemy 2's async ORM on asyncpg, written the way the two projects' docs show:
declarative models, an ``async_sessionmaker`` dependency, ``select()`` with ``joinedload``, Pydantic response
models validated from the ORM objects (``from_attributes``).

    BENCH_DATABASE_URL=postgresql://... uvicorn tools.bench.http.app_sqlalchemy:create_app --factory

No ``from __future__ import annotations``: FastAPI resolves the dependency annotations of routes declared
inside ``create_app`` from their objects, not from strings.
"""

import datetime
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ForeignKey, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, joinedload, mapped_column, relationship

from tools.bench.http import common


class Base(DeclarativeBase):
    """The declarative base of this app's models."""


class Author(Base):
    __tablename__ = common.AUTHOR_TABLE

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(common.NAME_MAX_LENGTH))


class Book(Base):
    __tablename__ = common.BOOK_TABLE

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(common.TITLE_MAX_LENGTH))
    pages: Mapped[int]
    published: Mapped[datetime.date] = mapped_column(index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey(f"{common.AUTHOR_TABLE}.id"))
    author: Mapped[Author] = relationship()


class AuthorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


class BookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    pages: int
    published: datetime.date
    author_id: int
    author: AuthorOut


class BookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(max_length=common.TITLE_MAX_LENGTH)
    pages: int = Field(ge=common.INT32_MIN, le=common.INT32_MAX)
    published: datetime.date
    author_id: int = Field(ge=common.INT32_MIN, le=common.INT32_MAX)


class BookPage(BaseModel):
    items: list[BookOut]
    next: str | None
    limit: int


class CatalogPage(BaseModel):
    items: list[BookOut]
    total: int
    limit: int
    offset: int


ORDER_COLUMNS = {"id": Book.id, "published": Book.published, "pages": Book.pages}


def create_app(database_url: str | None = None, pool_size: int | None = None) -> FastAPI:
    """The app; the database and pool size default to ``BENCH_DATABASE_URL`` and ``BENCH_POOL_SIZE``."""
    url = common.plain_dsn(database_url or common.database_url()).replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_async_engine(url, pool_size=pool_size or common.pool_size())
    session_factory = async_sessionmaker(engine, expire_on_commit=False)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    async def get_session() -> AsyncIterator[AsyncSession]:
        async with session_factory() as session:
            yield session

    Session = Annotated[AsyncSession, Depends(get_session)]
    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return common.HELLO

    @app.get("/books/{pk}", response_model=BookOut)
    async def get_book(pk: int, session: Session) -> Book:
        book = await session.scalar(select(Book).options(joinedload(Book.author)).where(Book.id == pk))
        if book is None:
            raise HTTPException(status_code=404, detail="Book not found")
        return book

    @app.get("/books", response_model=BookPage)
    async def list_books(session: Session, limit: int = common.LIST_LIMIT) -> dict[str, object]:
        statement = select(Book).options(joinedload(Book.author)).order_by(Book.id).limit(limit + 1)
        books = list(await session.scalars(statement))
        return common.page(books, limit, lambda book: book.id)

    @app.get(common.CATALOG_PATH, response_model=CatalogPage)
    async def catalog(
        session: Session,
        limit: Annotated[int, Query(ge=1, le=common.MAX_LIMIT)] = common.LIST_LIMIT,
        offset: Annotated[int, Query(ge=0, le=common.INT32_MAX)] = 0,
        ordering: str | None = None,
        author_id: Annotated[int | None, Query(ge=common.INT32_MIN, le=common.INT32_MAX)] = None,
        search: Annotated[str | None, Query(max_length=common.MAX_SEARCH_LENGTH)] = None,
    ) -> dict[str, object]:
        try:
            fields = common.parse_ordering(ordering)
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        conditions = []
        if author_id is not None:
            conditions.append(Book.author_id == author_id)
        if search and search.strip():
            conditions.append(Book.title.icontains(search.strip(), autoescape=True))
        order = [ORDER_COLUMNS[name].desc() if descending else ORDER_COLUMNS[name] for name, descending in fields]
        total = await session.scalar(select(func.count()).select_from(Book).where(*conditions))
        statement = (
            select(Book)
            .options(joinedload(Book.author))
            .where(*conditions)
            .order_by(*order)
            .limit(limit)
            .offset(offset)
        )
        books = list(await session.scalars(statement))
        return {"items": books, "total": total, "limit": limit, "offset": offset}

    @app.post("/books", response_model=BookOut, status_code=201)
    async def create_book(body: BookIn, session: Session) -> Book:
        book = Book(**body.model_dump())
        session.add(book)
        await session.commit()
        await session.refresh(book, ["author"])
        return book

    return app
