"""The admin plugin (fastmango/admin/plugin.py, static.py): the API and the SPA's files, in every app."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from fastmango.admin.static import STATIC, static_router
from fastmango.core.settings import DEFAULT_PLUGINS


def test_every_app_has_the_admin_plugin() -> None:
    assert "fastmango.admin.plugin:AdminPlugin" in DEFAULT_PLUGINS
    assert "fastmango.api.plugin:APIPlugin" in DEFAULT_PLUGINS


async def test_client_routes_answer_index_html_and_assets_their_files(client: httpx.AsyncClient) -> None:
    if not (STATIC / "index.html").is_file():
        return
    for path in ("/admin", "/admin/", "/admin/models/book/3"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
    assets = sorted((STATIC / "assets").iterdir())
    asset = await client.get(f"/admin/assets/{assets[0].name}")
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    assert (await client.get("/admin/assets/missing.js")).status_code == 404
    unknown = await client.get("/admin/api/nothing-here")
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"


async def test_without_a_build_the_admin_says_how_to_make_one(tmp_path: Path) -> None:
    app = FastAPI()
    app.include_router(static_router("/admin", tmp_path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get("/admin/models/post")
    assert response.status_code == 200
    assert "make admin" in response.text
