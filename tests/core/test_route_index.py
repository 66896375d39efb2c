"""The route index: a request tries only the routes that can match its first path segment, in the app's order, so
which route answers never changes (tests/core/test_route_gates.py covers the same routes through it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.routing import Match

from fastmango import FastMango, Settings
from fastmango.core.route_index import RouteIndex, install_route_index
from fastmango.testing import app_client
from tests.core.test_route_gates import make_app


def counted(app: FastMango, path: str) -> list[int]:
    """Count the calls to the ``matches`` of the route at ``path``."""
    route: Any = next(route for route in app.router.routes if getattr(route, "path", None) == path)
    calls = [0]
    matches = route.matches

    def counting(scope: Any) -> tuple[Match, Any]:
        calls[0] += 1
        found: tuple[Match, Any] = matches(scope)
        return found

    route.matches = counting
    return calls


async def test_a_request_skips_the_routes_of_other_segments_and_tries_its_own() -> None:
    app = make_app()
    async with app_client(app) as client:
        token, latest = counted(app, "/auth/token"), counted(app, "/items/latest")
        assert (await client.get("/items/7")).json() == {"route": "item", "pk": 7}
        assert token == [0]  # an /auth route is never tried for /items/7
        assert latest == [1]  # a route of its segment is
        assert (await client.post("/auth/token", data={})).status_code == 422
        assert token == [1]


async def test_an_earlier_route_with_a_parameter_first_still_wins() -> None:
    app = FastMango(settings=Settings(database_url="sqlite:///:memory:"), configure_logging=False)

    @app.get("/{section}/latest")
    async def section_latest(section: str) -> dict[str, str]:
        return {"route": "section", "section": section}

    @app.get("/items/latest")
    async def items_latest() -> dict[str, str]:
        return {"route": "items"}

    @app.get("/items/{pk}")
    async def item(pk: int) -> dict[str, object]:
        return {"route": "item", "pk": pk}

    async with app_client(app) as client:
        assert (await client.get("/items/latest")).json() == {"route": "section", "section": "items"}
        assert (await client.get("/items/3")).json() == {"route": "item", "pk": 3}
        assert (await client.get("/other/latest")).json() == {"route": "section", "section": "other"}
        assert (await client.get("/nowhere/at/all")).status_code == 404


async def test_routes_added_after_start_up_are_matched() -> None:
    app = make_app()
    async with app_client(app) as client:
        assert (await client.get("/late")).status_code == 404

        @app.get("/late")
        async def late() -> dict[str, str]:
            return {"route": "late"}

        later = APIRouter()

        @later.get("/{pk}")
        async def later_item(pk: int) -> dict[str, object]:
            return {"route": "later", "pk": pk}

        app.include_router(later, prefix="/items")  # after the /items routes: /items/7 stays theirs

        assert (await client.get("/late")).json() == {"route": "late"}
        assert (await client.get("/items/7")).json() == {"route": "item", "pk": 7}


async def test_url_for_finds_routes_of_every_segment() -> None:
    app = make_app()

    @app.get("/links")
    async def links(request: Request) -> dict[str, str]:
        return {"item": str(request.url_for("item", pk=4)), "book": str(request.url_for("book", pk=2))}

    async with app_client(app) as client:
        found = (await client.get("/links")).json()
    assert found == {"item": "http://testserver/items/4", "book": "http://testserver/api/books/2"}


async def test_a_not_found_handler_set_after_start_up_answers() -> None:
    app = make_app()
    async with app_client(app) as client:
        assert isinstance(app.router.middleware_stack, RouteIndex)
        original = app.router.default

        async def teapot(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 418, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        app.router.default = teapot  # type: ignore[method-assign]
        assert (await client.get("/missing")).status_code == 418
        app.router.default = original  # type: ignore[method-assign]
        assert (await client.get("/missing")).status_code == 404


def test_a_router_with_middleware_of_its_own_is_left_alone() -> None:
    app = make_app()
    wrapped = app.router.middleware_stack = RouteIndex(app.router)
    assert install_route_index(app.router)  # already indexed: kept
    assert app.router.middleware_stack is wrapped

    other = make_app()
    outer = other.router.middleware_stack = lambda scope, receive, send: None  # type: ignore[assignment,misc,return-value]
    assert not install_route_index(other.router)
    assert other.router.middleware_stack is outer


async def test_a_router_included_under_a_parameter_is_reached() -> None:
    app = make_app()
    tenant = APIRouter()

    @tenant.get("/items")
    async def tenant_items(tenant: str) -> dict[str, str]:
        return {"route": "tenant items", "tenant": tenant}

    nested = APIRouter()

    @nested.get("/info")
    async def tenant_info(tenant: str) -> dict[str, str]:
        return {"route": "tenant info", "tenant": tenant}

    tenant.include_router(nested, prefix="/sub")
    app.include_router(tenant, prefix="/{tenant}")
    plain = APIRouter()

    @plain.get("/ping")
    async def version_ping(n: int) -> dict[str, object]:
        return {"route": "ping", "n": n}

    app.include_router(plain, prefix="/v{n}")  # plain routes only: gated too
    async with app_client(app) as client:
        assert (await client.get("/acme/items")).json() == {"route": "tenant items", "tenant": "acme"}
        assert (await client.get("/acme/sub/info")).json() == {"route": "tenant info", "tenant": "acme"}
        assert (await client.get("/v2/ping")).json() == {"route": "ping", "n": 2}
        assert (await client.get("/items/7")).json() == {"route": "item", "pk": 7}


async def test_a_route_removed_and_another_added_after_start_up_is_seen() -> None:
    app = make_app()
    async with app_client(app) as client:
        assert (await client.get("/items/latest")).json() == {"route": "latest"}
        latest = next(route for route in app.router.routes if getattr(route, "path", None) == "/items/latest")
        app.router.routes.remove(latest)  # the same length again below, through the router

        @app.get("/fresh")
        async def fresh() -> dict[str, str]:
            return {"route": "fresh"}

        assert (await client.get("/fresh")).json() == {"route": "fresh"}
        assert (await client.get("/items/latest")).status_code == 422  # now /items/{pk}: not an int
