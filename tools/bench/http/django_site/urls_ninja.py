"""App 4: Django Ninja with async views and Django's async ORM, as its docs write them."""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from django.http import HttpRequest
from django.shortcuts import aget_object_or_404
from django.urls import path
from ninja import Field, FilterLookup, FilterSchema, NinjaAPI, Query, Schema
from ninja.errors import HttpError

from tools.bench.http import common
from tools.bench.http.django_site.models import Book

api = NinjaAPI(docs_url=None)


class AuthorOut(Schema):
    id: int
    name: str


class BookOut(Schema):
    id: int
    title: str
    pages: int
    published: datetime.date
    author_id: int
    author: AuthorOut


class BookIn(Schema):
    title: str = Field(max_length=common.TITLE_MAX_LENGTH)
    pages: int = Field(ge=common.INT32_MIN, le=common.INT32_MAX)
    published: datetime.date
    author_id: int = Field(ge=common.INT32_MIN, le=common.INT32_MAX)


class BookPage(Schema):
    items: list[BookOut]
    next: str | None
    limit: int


class CatalogPage(Schema):
    items: list[BookOut]
    total: int
    limit: int
    offset: int


class BookFilter(FilterSchema):
    """``?author_id=`` and ``?search=`` as Ninja's filtering guide declares them."""

    author_id: int | None = Field(None, ge=common.INT32_MIN, le=common.INT32_MAX)
    search: Annotated[str | None, FilterLookup(f"{common.CATALOG_SEARCH}__icontains")] = Field(
        None, max_length=common.MAX_SEARCH_LENGTH
    )


@api.get("/health")
async def health(request: HttpRequest) -> dict[str, str]:
    return {"status": "ok"}


@api.get("/hello")
async def hello(request: HttpRequest) -> dict[str, str]:
    return common.HELLO


@api.get("/books/{pk}", response=BookOut)
async def get_book(request: HttpRequest, pk: int) -> Any:
    return await aget_object_or_404(Book.objects.select_related("author"), pk=pk)


@api.get("/books", response=BookPage)
async def list_books(request: HttpRequest, limit: int = common.LIST_LIMIT) -> Any:
    books = [book async for book in Book.objects.select_related("author").order_by("id")[: limit + 1]]
    return common.page(books, limit, lambda book: book.pk)


@api.get(common.CATALOG_PATH, response=CatalogPage)
async def catalog(
    request: HttpRequest,
    filters: Query[BookFilter],
    limit: int = Query(common.LIST_LIMIT, ge=1, le=common.MAX_LIMIT),
    offset: int = Query(0, ge=0, le=common.INT32_MAX),
    ordering: str | None = None,
) -> Any:
    try:
        fields = common.parse_ordering(ordering)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    if filters.search is not None:
        filters.search = filters.search.strip() or None
    queryset = filters.filter(Book.objects.all())
    order = [f"-{name}" if descending else name for name, descending in fields]
    total = await queryset.acount()
    items = [book async for book in queryset.select_related("author").order_by(*order)[offset : offset + limit]]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@api.post("/books", response={201: BookOut})
async def create_book(request: HttpRequest, payload: BookIn) -> Any:
    book = await Book.objects.acreate(**payload.dict())
    return 201, await Book.objects.select_related("author").aget(pk=book.pk)


urlpatterns = [path("", api.urls)]
