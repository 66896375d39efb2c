"""Route gates: a request skips the routes whose literal path it cannot match; which route answers never changes."""

from __future__ import annotations

import httpx
from fastapi import APIRouter

from fastmango import FastMango, Settings
from fastmango.core.route_gates import gate_routes
from fastmango.testing import app_client


def make_app() -> FastMango:
    app = FastMango(settings=Settings(database_url="sqlite:///:memory:"), configure_logging=False)

    @app.get("/items/latest")
    async def latest() -> dict[str, str]:
        return {"route": "latest"}

    @app.get("/items/{pk}")
    async def item(pk: int) -> dict[str, object]:
        return {"route": "item", "pk": pk}

    @app.get("/files/{name:path}")
    async def file(name: str) -> dict[str, str]:
        return {"route": "file", "name": name}

    nested = APIRouter(prefix="/books")

    @nested.get("/{pk}")
    async def book(pk: int) -> dict[str, object]:
        return {"route": "book", "pk": pk}

    app.include_router(nested, prefix="/api")
    return app


async def test_requests_reach_the_route_they_matched_before() -> None:
    app = make_app()
    async with app_client(app) as client:
        assert (await client.get("/items/latest")).json() == {"route": "latest"}
        assert (await client.get("/items/7")).json() == {"route": "item", "pk": 7}
        assert (await client.get("/files/a/b.txt")).json() == {"route": "file", "name": "a/b.txt"}
        assert (await client.get("/api/books/3")).json() == {"route": "book", "pk": 3}
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/items")).status_code == 404
        assert (await client.get("/api/books")).status_code == 404
        assert (await client.get("/itemsx/1")).status_code == 404
    assert gate_routes(app.router.routes) == 0  # all gated at start-up, once


async def test_a_wrong_method_is_still_405_and_a_trailing_slash_still_redirects() -> None:
    async with app_client(make_app()) as client:
        wrong = await client.post("/items/latest")
        slash = await client.get("/items/latest/", follow_redirects=False)
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET"
    assert slash.status_code == 307
    assert slash.headers["location"].endswith("/items/latest")


async def test_routes_added_to_an_included_router_after_start_up_are_matched() -> None:
    app = make_app()
    late = APIRouter()

    @late.get("/first")
    async def first() -> dict[str, str]:
        return {"route": "first"}

    app.include_router(late, prefix="/late")  # gated on /late/first at start-up
    async with app_client(app) as client:

        @late.get("/added")
        async def added() -> dict[str, str]:
            return {"route": "added"}

        assert (await client.get("/late/added")).json() == {"route": "added"}
        assert (await client.get("/late/first")).json() == {"route": "first"}


async def test_an_app_served_under_a_root_path_matches_as_before() -> None:
    app = make_app()
    async with app_client(app):  # starts the app: the routes are gated
        transport = httpx.ASGITransport(app=app, root_path="/prefix")
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            found = await client.get("/prefix/items/5")
    assert found.json() == {"route": "item", "pk": 5}
