from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter

from fastmango import FastMango, Settings, __version__
from fastmango.testing import app_client

JSON = {"Accept": "application/json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def make_app(**settings: Any) -> FastMango:
    settings = {"database_url": "sqlite:///:memory:", "debug": True, "project_name": "demo", **settings}
    return FastMango(settings=Settings(**settings), configure_logging=False)


async def test_root_in_debug_shows_an_html_welcome_page_with_links() -> None:
    async with app_client(make_app()) as client:
        response = await client.get("/", headers=BROWSER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "demo is running" in response.text
    for link in ("/docs", "/health"):
        assert f'href="{link}"' in response.text


async def test_root_in_debug_answers_json_when_the_client_asks_for_it() -> None:
    async with app_client(make_app()) as client:
        response = await client.get("/", headers=JSON)
    assert response.status_code == 200
    body = response.json()
    assert body["project"] == "demo"
    assert body["fastmango"] == __version__
    assert body["links"] == {"docs": "/docs", "admin": "/admin/", "health": "/health"}  # every app has the admin


async def test_the_admin_link_shows_when_the_app_serves_the_admin() -> None:
    app = make_app()

    @app.get("/admin/")
    async def admin() -> dict[str, str]:
        return {}

    async with app_client(app) as client:
        body = (await client.get("/", headers=JSON)).json()
    assert body["links"]["admin"] == "/admin/"


async def test_head_of_root_is_answered_too() -> None:
    async with app_client(make_app()) as client:
        response = await client.head("/")
    assert response.status_code == 200


async def test_without_debug_root_is_a_not_found_problem() -> None:
    async with app_client(make_app(debug=False)) as client:
        response = await client.get("/", headers=BROWSER)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_in_prod_root_is_a_not_found_problem() -> None:
    app = make_app(env="prod", debug=False, secret_key="k" * 48)
    async with app_client(app) as client:
        response = await client.get("/", headers=JSON)
    assert response.status_code == 404


async def test_a_project_route_at_root_added_after_the_app_was_built_wins() -> None:
    app = make_app()
    router = APIRouter()

    @router.get("/")
    async def home() -> dict[str, str]:
        return {"page": "home"}

    app.include_router(router)
    async with app_client(app) as client:
        response = await client.get("/", headers=BROWSER)
    assert response.json() == {"page": "home"}


async def test_a_project_route_at_root_for_another_method_keeps_its_405() -> None:
    app = make_app()

    @app.post("/")
    async def create() -> dict[str, str]:
        return {}

    async with app_client(app) as client:
        response = await client.get("/")
    assert response.status_code == 405


async def test_other_unknown_paths_and_methods_stay_not_found_problems() -> None:
    async with app_client(make_app()) as client:
        unknown = await client.get("/nope", headers=JSON)
        posted = await client.post("/")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert posted.status_code == 404


async def test_the_welcome_page_is_not_in_the_openapi_document() -> None:
    async with app_client(make_app()) as client:
        schema = (await client.get("/openapi.json")).json()
    assert "/" not in schema["paths"]


async def test_the_welcome_page_links_under_the_root_path() -> None:
    transport = httpx.ASGITransport(app=make_app(), root_path="/api")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/api/", headers=JSON)
    assert response.status_code == 200
    assert response.json()["links"]["health"] == "/api/health"
