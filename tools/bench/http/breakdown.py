"""Where a fastmango read's CPU time goes, layer by layer, in-process (no HTTP server).

    .venv-bench/bin/python -m tools.bench.http.breakdown            # ~1 minute

Each line runs one way of doing the same work (16 concurrent callers on one event loop, like the HTTP
benchmark's 16 connections) and prints the process's CPU time per call, median of 5 interleaved rounds.
Reading the lines top to bottom adds one layer at a time: the raw driver, SQLAlchemy Core, the ORM session,
a statement built per call (as every QuerySet does), fastmango's QuerySet, and CRUDRouter; then the same
request through the whole ASGI app with and without the database. The process is pinned to CPU 0 and
PostgreSQL's backends to CPU 1, as in the benchmark.
"""

from __future__ import annotations

import asyncio
import datetime
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tools.bench.http import app_floor, common
from tools.bench.http.harness import DATABASE_NAME, DEFAULT_SERVER_URL, Results, backend_pids, bench_database
from tools.bench.http.servers import APP_CPU, pin_to
from tools.bench.orm_pinning import pin_backends

Case = Callable[[], Awaitable[Any]]
CALLS, CONCURRENCY, ROUNDS = 2000, 16, 5


async def cpu_per_call(case: Case, calls: int = CALLS) -> float:
    """CPU microseconds per call of ``case``, run by :data:`CONCURRENCY` concurrent callers."""

    async def caller(count: int) -> None:
        for _ in range(count):
            await case()

    started = time.process_time()
    await asyncio.gather(*(caller(calls // CONCURRENCY) for _ in range(CONCURRENCY)))
    return (time.process_time() - started) / calls * 1e6


async def asgi_get(app: Any, path: str) -> int:
    """One GET through the ASGI app, as uvicorn would call it; the status."""
    status = 0
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            await asyncio.sleep(3600)
        delivered = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    await app(scope, receive, send)
    return status


async def measure(url: str) -> dict[str, float]:
    import asyncpg
    from sqlalchemy import insert

    from fastmango.api.resource import Caller
    from fastmango.db import plans
    from fastmango.db.engine import get_database
    from tools.bench.http.app_fastmango import BenchBook, create_app

    app = create_app(url, common.POOL_SIZE, configure_logging=False)
    crud = next(
        route.original_router
        for route in app.router.routes
        if hasattr(route, "original_router") and hasattr(route.original_router, "read_one")
    )
    timings: dict[str, list[float]] = {}
    async with app.router.lifespan_context(app):
        database = get_database()
        pool = await asyncpg.create_pool(common.plain_dsn(url), min_size=common.POOL_SIZE, max_size=common.POOL_SIZE)

        def pk() -> int:
            return random.randint(1, common.ROWS)

        paths = tuple(crud.resource.paths)
        resource, caller = crud.resource, Caller()
        books = BenchBook.objects.all()
        table = BenchBook.__table__

        def build() -> Any:  # what the plan cache saves: the shape of the query, then its statement compiled anew
            state = books.filter(pk=pk())[:1]._state
            result = plans.Result(plans.TUPLES, paths)
            _, values = plans.shape_of(state, result)
            return plans.build(state, result, values).statement.params(
                {name: values[index] for name, index, _ in plans.build(state, result, values).params}
            )

        prebuilt = build()
        first_page = books.order_by("id")[: common.LIST_LIMIT + 1]

        async def raw_on_engine_pool() -> Any:
            raw = await database.engine.raw_connection()
            try:
                return await raw.driver_connection.fetch(app_floor.GET_BOOK, pk())
            finally:
                raw.close()

        async def core_sql() -> Any:
            async with database.autocommit_engine.connect() as conn:
                return (await conn.exec_driver_sql(app_floor.GET_BOOK, (pk(),))).all()

        async def core(statement: Callable[[], Any]) -> Any:
            async with database.autocommit_engine.connect() as conn:
                return (await conn.execute(statement())).all()

        async def session(statement: Callable[[], Any]) -> Any:
            async with database.autocommit_sessions() as orm_session:
                return (await orm_session.execute(statement())).all()

        async def build_only() -> Any:
            return build()

        def new_book() -> dict[str, Any]:
            return {"title": "x", "pages": 5, "published": datetime.date(2024, 1, 1), "author_id": random.randint(1, 9)}

        async def core_insert() -> Any:
            async with database.autocommit_engine.connect() as conn:
                return (await conn.execute(insert(table).values(**new_book()).returning(*table.c))).all()

        row = {"id": 1}
        real_read_one = crud.read_one

        async def stub_read_one(request: Any, key: Any) -> Any:
            return row

        async def get_without_database() -> Any:
            crud.read_one = stub_read_one
            try:
                return await asgi_get(app, f"/books/{pk()}")
            finally:
                crud.read_one = real_read_one

        cases: dict[str, Case] = {
            "get: raw asyncpg, its own pool (the floor's query)": lambda: pool.fetchrow(app_floor.GET_BOOK, pk()),
            "get: raw asyncpg on fastmango's engine pool (engine.raw_connection)": raw_on_engine_pool,
            "get: SQLAlchemy Core, conn.exec_driver_sql(SQL string)": core_sql,
            "get: SQLAlchemy Core, conn.execute(statement built once)": lambda: core(lambda: prebuilt),
            "get: SQLAlchemy Core, conn.execute(statement built per call)": lambda: core(build),
            "get: AsyncSession.execute(statement built once)": lambda: session(lambda: prebuilt),
            "get: AsyncSession.execute(statement built per call)": lambda: session(build),
            "get: fastmango statement building alone (filter, slice, shape, plans.build)": build_only,
            "get: fastmango QuerySet.filter(pk=).values(...)[:1]": lambda: books.filter(pk=pk()).values(*paths)[:1],
            "get: CRUDRouter.read_one": lambda: crud.read_one(None, pk()),
            "get: whole request through the ASGI app": lambda: asgi_get(app, f"/books/{pk()}"),
            "get: whole request, read_one stubbed out (no database)": get_without_database,
            "hello: whole request through the ASGI app": lambda: asgi_get(app, "/hello"),
            "list: raw asyncpg, 21 rows": lambda: pool.fetch(app_floor.LIST_BOOKS, common.LIST_LIMIT + 1),
            "list: CRUDRouter.read_rows, 21 rows": lambda: crud.read_rows(first_page),
            "create: raw asyncpg INSERT ... RETURNING joined": lambda: pool.fetchrow(
                app_floor.CREATE_BOOK, *new_book().values()
            ),
            "create: SQLAlchemy Core insert().returning()": core_insert,
            "create: fastmango Model.objects.create()": lambda: BenchBook.objects.create(**new_book()),
            "create: ModelResource.create (INSERT, then the row as the caller reads it)": lambda: resource.create(
                caller, new_book()
            ),
        }
        for case in cases.values():  # warm every cache and pool
            for _ in range(100):
                await case()
        pin_backends(await backend_pids(url), DATABASE_NAME)
        for _ in range(ROUNDS):
            for name, case in cases.items():
                timings.setdefault(name, []).append(await cpu_per_call(case))
        await pool.close()
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> int:
    pin_to(APP_CPU)
    server_url = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SERVER_URL
    with bench_database(server_url, Results(), lambda message: print(message, file=sys.stderr)) as url:
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        medians = asyncio.run(measure(url))
    print("| CPU us per call | way |\n|---:|---|")
    for name, value in medians.items():
        print(f"| {value:,.1f} | {name} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
