"""Malformed requests are 4xx problems, never a 500: NUL bytes in the SPA's paths, forged list cursors."""

from __future__ import annotations

import base64
import json

import httpx

from tests.admin.conftest import headers_for, seed

API = "/admin/api"


async def test_nul_bytes_in_admin_paths_are_404(client: httpx.AsyncClient) -> None:
    for url in ("/admin/assets/%00", "/admin/assets/a%00b.js", "/admin/a%00b", "/admin/%00"):
        response = await client.get(url)
        assert response.status_code == 404, (url, response.text)


async def test_a_forged_cursor_with_a_huge_offset_is_a_400(client: httpx.AsyncClient) -> None:
    await seed()
    root = await headers_for(client, "root", superuser=True)
    for offset in (10**30, 2**63, int("9" * 3000)):
        raw = json.dumps({"o": ["title", "id"], "off": offset}).encode()
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        response = await client.get(f"{API}/models/book", params={"cursor": cursor}, headers=root)
        assert response.status_code == 400, response.text
    raw = json.dumps({"o": ["title", "id"], "off": 2}).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = await client.get(f"{API}/models/book", params={"cursor": cursor}, headers=root)
    assert response.status_code == 200 and len(response.json()["items"]) == 2
