"""The DEBUG traceback page: HTML for a browser, problem+json for everyone else, no secrets on it."""

from __future__ import annotations

import pytest
from fastapi import Request

from fastmango import FastMango, Settings
from fastmango.core.debug_page import prefers_html
from fastmango.testing import app_client

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class LedgerError(Exception):
    pass


def debug_app(debug: bool = True) -> FastMango:
    app = FastMango(settings=Settings(database_url="sqlite:///:memory:", debug=debug), configure_logging=False)

    @app.post("/charge")
    async def charge_customer(request: Request) -> None:
        password = (await request.json())["password"]
        headers = dict(request.headers)
        amount = 42
        raise LedgerError(f"cannot charge {amount} with {len(password)} characters of password ({len(headers)})")

    @app.get("/xss")
    async def xss() -> None:
        raise ValueError("<script>alert(1)</script>")

    return app


async def charge(app: FastMango, accept: str | None) -> tuple[int, dict[str, str], str]:
    headers = {"Authorization": "Bearer s3cr3t-bearer-value", "X-Custom-Token": "tok-123456"}
    if accept is not None:
        headers["Accept"] = accept
    async with app_client(app) as client:
        response = await client.post("/charge", json={"password": "hunter2"}, headers=headers)
    return response.status_code, dict(response.headers), response.text


async def test_a_browser_in_debug_gets_the_traceback_page() -> None:
    status, headers, page = await charge(debug_app(), BROWSER)
    assert status == 500
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert "LedgerError" in page
    assert "cannot charge 42 with 7 characters of password" in page
    assert "charge_customer" in page
    assert "raise LedgerError(f&#34;cannot charge {amount}" in page  # the raising source line
    assert "POST" in page and "/charge" in page
    assert headers["x-request-id"] in page


async def test_the_page_masks_secret_locals_and_secret_headers() -> None:
    _, _, page = await charge(debug_app(), BROWSER)
    assert "hunter2" not in page
    assert "s3cr3t-bearer-value" not in page  # neither in the headers table nor in the `headers` local
    assert "tok-123456" not in page
    assert "***" in page
    assert "42" in page  # an ordinary local is shown


async def test_the_page_opens_the_users_frames_and_folds_library_frames() -> None:
    _, _, page = await charge(debug_app(), BROWSER)
    frames = page.split('<details class="frame ')[1:]
    user = [frame for frame in frames if frame.startswith("user")]
    library = [frame for frame in frames if frame.startswith("library")]
    assert len(user) == 1 and user[0].startswith('user" open>') and "charge_customer" in user[0]
    assert any("site-packages/starlette" in frame for frame in library)
    assert all(frame.startswith('library">') for frame in library)


async def test_the_page_escapes_the_exception_message() -> None:
    async with app_client(debug_app()) as client:
        response = await client.get("/xss", headers={"Accept": BROWSER})
    assert response.status_code == 500
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


@pytest.mark.parametrize("accept", ["application/json", None, "*/*", "application/json, text/html"])
async def test_json_clients_in_debug_keep_problem_json_with_the_traceback(accept: str | None) -> None:
    status, headers, text = await charge(debug_app(), accept)
    assert status == 500
    assert headers["content-type"] == "application/problem+json"
    assert "<html" not in text
    assert "LedgerError" in text and '"traceback"' in text


async def test_outside_debug_a_browser_gets_the_plain_problem() -> None:
    status, headers, text = await charge(debug_app(debug=False), BROWSER)
    assert status == 500
    assert headers["content-type"] == "application/problem+json"
    assert "traceback" not in text and "LedgerError" not in text and "<html" not in text


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (BROWSER, True),
        ("text/html, application/json", True),
        ("application/json;q=0.5, text/html", True),
        ("text/html;q=0.5, */*", False),
        ("text/html;q=0", False),
        ("application/json, text/html", False),
        ("*/*", False),
        ("", False),
    ],
)
def test_prefers_html_ranks_html_over_json(accept: str, html: bool) -> None:
    assert prefers_html(accept) is html
