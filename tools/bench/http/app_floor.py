"""App 5, the floor: FastAPI with a raw asyncpg pool, hand-written SQL and orjson. The request body is still
validated by a Pydantic model, as any FastAPI app does.

    BENCH_DATABASE_URL=postgresql://... uvicorn tools.bench.http.app_floor:create_app --factory
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import FastAPI, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tools.bench.http import common

GET_BOOK = f"{common.SELECT_BOOK} WHERE b.id = $1"
LIST_BOOKS = f"{common.SELECT_BOOK} ORDER BY b.id LIMIT $1"
CREATE_BOOK = f"""WITH b AS (
        INSERT INTO {common.BOOK_TABLE} (title, pages, published, author_id) VALUES ($1, $2, $3, $4)
        RETURNING id, title, pages, published, author_id
    )
    SELECT b.id, b.title, b.pages, b.published, b.author_id, a.name AS author_name
    FROM b JOIN {common.AUTHOR_TABLE} a ON a.id = b.author_id"""


# GET /catalog: the statements fastmango's CRUDRouter sends for the same request (its clauses, join, casts and
# escape character), built once per combination of parameters present.
_B, _A = common.BOOK_TABLE, common.AUTHOR_TABLE
CATALOG_SELECT = f"""SELECT {_B}.id AS id, {_B}.title AS title, {_B}.pages AS pages, {_B}.published AS published,
    {_B}.author_id AS author_id, author_rel.id AS author__id, author_rel.name AS author__name
    FROM {_B} LEFT OUTER JOIN {_A} AS author_rel ON author_rel.id = {_B}.author_id"""
CATALOG_COUNT = f"SELECT count(*) AS count_1 FROM {_B}"


@functools.lru_cache(maxsize=256)
def catalog_sql(
    filtered: bool, searched: bool, ordering: tuple[tuple[str, bool], ...], offset: bool
) -> tuple[str, str]:
    """The COUNT and the page statements; parameters: author_id, search term, limit, offset (those present)."""
    conditions: list[str] = []
    if filtered:
        conditions.append(f"{_B}.author_id = ${len(conditions) + 1}::INTEGER")
    if searched:
        conditions.append(f"({_B}.title ILIKE '%' || ${len(conditions) + 1}::VARCHAR || '%' ESCAPE '/')")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    order = ", ".join(f"{_B}.{name} {'DESC' if descending else 'ASC'}" for name, descending in ordering)
    page = f"{CATALOG_SELECT}{where} ORDER BY {order} LIMIT ${len(conditions) + 1}::INTEGER"
    if offset:
        page += f" OFFSET ${len(conditions) + 2}::INTEGER"
    if not conditions and ordering == (("id", False),):  # fastmango's prepared unfiltered page: no casts
        page = f"{CATALOG_SELECT} ORDER BY {order} LIMIT $1 OFFSET $2"
    return CATALOG_COUNT + where, page


class BookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(max_length=common.TITLE_MAX_LENGTH)
    pages: int = Field(ge=common.INT32_MIN, le=common.INT32_MAX)
    published: datetime.date
    author_id: int = Field(ge=common.INT32_MIN, le=common.INT32_MAX)


def json_response(payload: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json")


def create_app(database_url: str | None = None, pool_size: int | None = None) -> FastAPI:
    """The app; the database and pool size default to ``BENCH_DATABASE_URL`` and ``BENCH_POOL_SIZE``."""
    dsn = common.plain_dsn(database_url or common.database_url())
    size = pool_size or common.pool_size()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(dsn, min_size=1, max_size=size)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> Response:
        return json_response({"status": "ok"})

    @app.get("/hello")
    async def hello() -> Response:
        return json_response(common.HELLO)

    @app.get("/books/{pk}")
    async def get_book(request: Request, pk: int) -> Response:
        row = await request.app.state.pool.fetchrow(GET_BOOK, pk)
        if row is None:
            raise HTTPException(status_code=404, detail="Book not found")
        return json_response(common.book_json(row))

    @app.get("/books")
    async def list_books(request: Request, limit: int = common.LIST_LIMIT) -> Response:
        rows = await request.app.state.pool.fetch(LIST_BOOKS, limit + 1)
        return json_response(common.page([common.book_json(row) for row in rows], limit, lambda item: item["id"]))

    @app.get(common.CATALOG_PATH)
    async def catalog(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=common.MAX_LIMIT)] = common.LIST_LIMIT,
        offset: Annotated[int, Query(ge=0, le=common.INT32_MAX)] = 0,
        ordering: str | None = None,
        author_id: Annotated[int | None, Query(ge=common.INT32_MIN, le=common.INT32_MAX)] = None,
        search: Annotated[str | None, Query(max_length=common.MAX_SEARCH_LENGTH)] = None,
    ) -> Response:
        try:
            order = tuple(common.parse_ordering(ordering))
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        term = search.strip() if search else ""
        arguments: list[Any] = [] if author_id is None else [author_id]
        if term:
            arguments.append(common.like_escape(term))
        count_sql, page_sql = catalog_sql(author_id is not None, bool(term), order, offset > 0)
        paging = (limit, offset) if "OFFSET" in page_sql else (limit,)
        async with request.app.state.pool.acquire() as conn:
            total = await conn.fetchval(count_sql, *arguments)
            rows = await conn.fetch(page_sql, *arguments, *paging)
        items = [
            {
                "id": row[0],
                "title": row[1],
                "pages": row[2],
                "published": row[3],
                "author_id": row[4],
                "author": None if row[5] is None else {"id": row[5], "name": row[6]},
            }
            for row in rows
        ]
        return json_response({"items": items, "total": total, "limit": limit, "offset": offset})

    @app.post("/books", status_code=201)
    async def create_book(request: Request, body: BookIn) -> Response:
        row = await request.app.state.pool.fetchrow(CREATE_BOOK, body.title, body.pages, body.published, body.author_id)
        return json_response(common.book_json(row), status_code=201)

    return app
