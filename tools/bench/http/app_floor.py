"""App 5, the floor: FastAPI with a raw asyncpg pool, hand-written SQL and orjson. The request body is still
validated by a Pydantic model, as any FastAPI app does.

    BENCH_DATABASE_URL=postgresql://... uvicorn tools.bench.http.app_floor:create_app --factory
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, HTTPException, Request, Response
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

    @app.post("/books", status_code=201)
    async def create_book(request: Request, body: BookIn) -> Response:
        row = await request.app.state.pool.fetchrow(CREATE_BOOK, body.title, body.pages, body.published, body.author_id)
        return json_response(common.book_json(row), status_code=201)

    return app
