"""App 1: fastmango, as a project writes it: models, ``CRUDRouter`` and a hand-written route.

Production profile (DEBUG off), the default plugins (database, auth: the authentication middleware runs
on every request, and the admin), ``permissions=False`` on the routers so that no request needs a token.
The admin phase (fastmango only) lists ``benchentry`` in the admin (``/admin/api/models/benchentry``, staff
only) and on an offset-paged ``CRUDRouter`` (``/entries``); :data:`statements.PATH` reads the statements of one
request.

    BENCH_DATABASE_URL=postgresql://... uvicorn tools.bench.http.app_fastmango:create_app --factory

No ``from __future__ import annotations``: SQLModel cannot resolve relationships with it.
"""

import datetime

from fastmango import FastMango, Settings, admin
from fastmango.api import CRUDRouter
from fastmango.db import Field, Model, Relationship
from tools.bench import plan_cache
from tools.bench.http import common, statements

SECRET_KEY = "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


class BenchAuthor(Model, table=True):
    """An author (table ``benchauthor``)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=common.NAME_MAX_LENGTH)


class BenchBook(Model, table=True):
    """A book (table ``benchbook``), with a foreign key to its author."""

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=common.TITLE_MAX_LENGTH)
    pages: int
    published: datetime.date = Field(index=True)
    author_id: int = Field(foreign_key="benchauthor.id", index=True)
    author: BenchAuthor = Relationship()


class BenchEntry(Model, table=True):
    """A row of the admin phase's large table (``benchentry``, :data:`common.ENTRY_ROWS` rows)."""

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=common.TITLE_MAX_LENGTH)
    pages: int
    published: datetime.date


def create_app(
    database_url: str | None = None, pool_size: int | None = None, *, configure_logging: bool = True
) -> FastMango:
    """The app; the database and pool size default to ``BENCH_DATABASE_URL`` and ``BENCH_POOL_SIZE``.
    ``configure_logging=False`` leaves the process's logging alone (tests)."""
    settings = Settings(
        _env_file=None,
        env="prod",
        secret_key=SECRET_KEY,
        database_url=database_url or common.database_url(),
        database_pool_size=pool_size or common.pool_size(),
        log_level="WARNING",
        api_max_search_length=common.MAX_SEARCH_LENGTH,
        api_history=False,  # the other apps write no history of their writes (and the bench has no such table)
    )
    app = FastMango(settings=settings, configure_logging=configure_logging)
    app.include_router(
        CRUDRouter(
            BenchBook,
            prefix="/books",
            select_related=["author"],
            permissions=False,
            pagination="cursor",
            default_limit=common.LIST_LIMIT,
            actions=("list", "get", "create"),
        )
    )
    # The list a client pages through: offset pages with their total, a filter, a search and an ordering.
    app.include_router(
        CRUDRouter(
            BenchBook,
            prefix=common.CATALOG_PATH,
            select_related=["author"],
            permissions=False,
            pagination="offset",
            default_limit=common.LIST_LIMIT,
            filter_fields=[common.CATALOG_FILTER],
            search_fields=[common.CATALOG_SEARCH],
            ordering_fields=common.CATALOG_ORDERING,
            max_limit=common.MAX_LIMIT,
            actions=("list",),
        )
    )

    # The admin phase: the admin's list of a large table (keyset pages, an estimated total), and the offset page
    # with its COUNT that a CRUDRouter answers on the same table.
    admin.register(BenchEntry, list_display=["id", "title", "pages", "published"])
    app.include_router(
        CRUDRouter(
            BenchEntry,
            prefix=common.ENTRIES_PATH,
            permissions=False,
            pagination="offset",
            default_limit=common.LIST_LIMIT,
            actions=("list",),
        )
    )
    recorder = statements.Recorder()

    @app.post(statements.PATH, include_in_schema=False)
    async def record_statements() -> dict[str, bool]:
        """Record every statement the process runs from now on (the harness sends one request, then GETs them)."""
        recorder.start()
        return {"recording": True}

    @app.get(statements.PATH, include_in_schema=False)
    async def recorded_statements() -> list[str]:
        """Stop recording; the SQL of the statements run since the POST."""
        return recorder.stop()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return common.HELLO

    @app.get(plan_cache.STATS_PATH, include_in_schema=False)
    async def plan_cache_stats() -> dict[str, float] | None:
        """The plan cache's counters in this process (null without one), read by the harness after each round."""
        return plan_cache.read_plan_cache_stats()

    return app
