"""The debug panel in a real browser: Playwright for Python driving Debian's Chromium headless, against the
devtools test app (the N+1 endpoint of tests/devtools/conftest.py) in DEBUG, served by uvicorn on a free port of
127.0.0.1 (SQLite in a temporary folder).

The server is ``uvicorn --factory tests.devtools.test_panel_browser:panel_app``: its lifespan creates the tables,
writes three authors and four books, and adds ``staff`` (staff with ``debug.view``), ``nogrant`` (staff without it)
and ``reader`` (granted ``debug.view`` but not staff). One server and one browser serve the module; each test gets
fresh contexts (no cookie carried over). About 10 s.

Set ``FASTMANGO_DEVTOOLS_SCREENSHOTS=docs/devtools`` to save the panel's screenshots in that folder.
Without Chromium or Playwright the tests skip locally and fail under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.auth.conftest import PASSWORD
from tests.browser import opened_page, screenshot
from tests.serving import wait_healthy

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENT = {"FASTMANGO_ENV": "test", "FASTMANGO_LOG_LEVEL": "WARNING"}
STAFF = "staff"
NO_GRANT = "nogrant"
READER = "reader"
SCREENSHOTS = os.environ.get("FASTMANGO_DEVTOOLS_SCREENSHOTS")
VIEWPORT = {"width": 1280, "height": 800}
LIST_HEADING = "Recent requests, jobs and agent runs"


def seeded(lifespan: Any) -> Any:
    """``lifespan`` that, once the app is started, creates the tables and seeds them (before any request)."""

    @contextlib.asynccontextmanager
    async def seeding(app: Any) -> AsyncIterator[Any]:
        async with lifespan(app) as state:
            await seed()
            yield state

    return seeding


async def seed() -> None:
    from fastmango.auth import User, sync_permissions
    from fastmango.db import create_all
    from tests.db.models import Author, Book

    await create_all()
    await sync_permissions()
    ann, bob, cy = [await Author.objects.create(name=name) for name in ("Ann", "Bob", "Cy")]
    for number, writer in enumerate([ann, bob, ann, cy]):
        await Book.objects.create(title=f"Book {number}", author_id=writer.id)
    staff = await User.objects.create_user(STAFF, PASSWORD, is_staff=True)
    await staff.grant("debug.view")
    await User.objects.create_user(NO_GRANT, PASSWORD, is_staff=True)
    reader = await User.objects.create_user(READER, PASSWORD)
    await reader.grant("debug.view")


def panel_app() -> Any:
    """The devtools test app over ``DATABASE_URL``, seeded when it starts (uvicorn's ``--factory``)."""
    from tests.devtools.conftest import build_app

    app = build_app(os.environ["DATABASE_URL"])
    app.router.lifespan_context = seeded(app.router.lifespan_context)
    return app


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:

    folder = tmp_path_factory.mktemp("devtools-panel")
    log = folder / "server.log"
    env = {**os.environ, **ENVIRONMENT, "DATABASE_URL": f"sqlite:///{folder / 'panel.sqlite3'}"}
    # uvicorn's own command, in the repository, so that the records name the call sites of user code as a project's
    # would: tests/devtools/conftest.py:<line> for the endpoint, none for the framework's own statements
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    command = [sys.executable, "-m", "uvicorn", "--factory", f"{__name__}:panel_app", "--fd", str(sock.fileno())]
    command += ["--log-level", "warning", "--no-access-log", "--lifespan", "on"]
    with log.open("w") as stderr, sock:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stderr=stderr, pass_fds=[sock.fileno()])
        try:
            wait_healthy(url, process, log)
            yield url
        finally:
            process.terminate()
            process.wait(30)


@pytest.fixture
def new_page(browser: Any, base_url: str) -> Iterator[Any]:
    """Opens a page in a fresh context (``new_page(**context_options)``); no page may raise an uncaught error."""
    with contextlib.ExitStack() as pages:

        def open_page(**options: Any) -> Any:
            return pages.enter_context(opened_page(browser, base_url, **({"viewport": VIEWPORT} | options)))

        yield open_page


def shot(page: Any, name: str, **options: Any) -> None:
    screenshot(page, SCREENSHOTS, name, **options)


def log_in(page: Any, username: str) -> None:
    """Log the page's context in with the auth cookie, as the panel's login form does."""
    response = page.request.post("/auth/token?cookie=true", form={"username": username, "password": PASSWORD})
    assert response.status == 200, response.text()


def n_plus_one(page: Any) -> str:
    """Fetch the N+1 endpoint with the page's cookie; the id of its debug record."""
    response = page.request.get("/n-plus-one")
    assert response.status == 200, response.text()
    assert response.json() == ["Ann", "Bob", "Ann", "Cy"]
    record: str = response.headers["x-debug-record"]
    return record


def focused(page: Any) -> str:
    return str(page.evaluate("(e => e.tagName + (e.id ? '#' + e.id : ':' + e.textContent))(document.activeElement)"))


def luminance(page: Any, selector: str, property: str) -> float:
    """The relative luminance (WCAG 2) of an element's computed colour ``property``."""
    color = page.eval_on_selector(selector, f"e => getComputedStyle(e).{property}")
    channels = [int(value) / 255 for value in re.findall(r"[\d.]+", color)[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_an_anonymous_browser_logs_in_with_the_keyboard_reachable_form(new_page: Any) -> None:
    from playwright.sync_api import expect

    page = new_page()
    response = page.goto("/_debug/")
    assert response.status == 401
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    username, password = page.get_by_label("Username"), page.get_by_label("Password")
    expect(username).to_have_attribute("autocomplete", "username")
    expect(password).to_have_attribute("type", "password")

    order = []
    for _ in range(4):
        page.keyboard.press("Tab")
        order.append(focused(page))
    assert order == ["A:fastmango debug panel", "INPUT#username", "INPUT#password", "BUTTON:Log in"]

    username.fill(STAFF)
    password.fill("not-the-password")
    password.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("Incorrect username or password.")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()

    password.fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=LIST_HEADING)).to_be_visible()
    # the newest logins are this page's: the successful one, and the refused one before it
    logins = page.get_by_role("row").filter(has=page.get_by_role("link", name="POST /auth/token"))
    expect(logins.nth(0).get_by_role("cell").nth(3)).to_have_text("200")
    expect(logins.nth(1).get_by_role("cell").nth(3)).to_have_text("401")
    [cookie] = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # out of the page's scripts' reach


def test_the_n_plus_one_request_is_listed_with_its_warning_and_its_record_names_the_fix(new_page: Any) -> None:
    from playwright.sync_api import expect

    page = new_page()
    log_in(page, STAFF)
    record_id = n_plus_one(page)
    page.goto("/_debug/")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="GET /n-plus-one")).first
    expect(row).to_have_class("warn")
    expect(row).to_contain_text("1 warning")
    statements = row.get_by_role("cell").nth(5).inner_text()  # the caller's auth, the books, each book's author
    expect(row).to_contain_text(STAFF)
    shot(page, "panel-list")

    row.get_by_role("link", name="GET /n-plus-one").click()
    expect(page).to_have_url(re.compile(f"/_debug/records/{record_id}$"))
    expect(page.get_by_role("heading", name="request: GET /n-plus-one")).to_be_visible()
    site = re.compile(r"tests/devtools/conftest\.py:\d+ in n_plus_one")
    warnings = page.get_by_role("region", name="Warnings")
    expect(warnings.get_by_role("listitem")).to_have_count(1)
    expect(warnings).to_contain_text(re.compile(f"4 similar queries at {site.pattern}"))
    expect(warnings).to_contain_text("Author is read one row at a time: load it with the Book rows, ")
    expect(warnings).to_contain_text('Book.objects.select_related("author")')

    sql = page.get_by_role("region", name=f"SQL ({statements})")
    rows = sql.get_by_role("row")
    expect(rows).to_have_count(int(statements) + 1)  # the header, then one row a statement
    authors = rows.filter(has_text="FROM author")
    expect(authors).to_have_count(4)
    for n in range(4):
        expect(authors.nth(n)).to_have_class("warn")
        expect(authors.nth(n)).to_contain_text("run 4 times in this request")
        expect(authors.nth(n)).to_contain_text(site)
    books = rows.filter(has_text="FROM book")
    expect(books).to_have_count(1)
    expect(books).not_to_have_class("warn")  # the books are read once
    expect(books).to_contain_text(site)
    expect(sql.locator("tr.warn")).to_have_count(4)  # nothing else is highlighted
    box = sql.bounding_box()
    shot(page, "panel-record", full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": box["y"] + box["height"]})

    index = authors.first.get_by_role("cell").first.inner_text()
    authors.first.get_by_role("link", name="EXPLAIN").click()
    expect(page).to_have_url(re.compile(f"/_debug/records/{record_id}/queries/{index}/explain$"))
    expect(page.get_by_role("heading", name="EXPLAIN")).to_be_visible()
    expect(page.locator("pre").first).to_contain_text("FROM author")
    expect(page.locator("pre").nth(1)).to_contain_text(re.compile(r"SEARCH author USING INTEGER PRIMARY KEY"))
    shot(page, "panel-explain")
    page.get_by_role("link", name="back to GET /n-plus-one").click()
    expect(page).to_have_url(re.compile(f"/_debug/records/{record_id}$"))


@pytest.mark.parametrize("username", [NO_GRANT, READER])
def test_staff_without_debug_view_and_users_who_are_not_staff_are_refused(new_page: Any, username: str) -> None:
    page = new_page()
    log_in(page, username)
    record_id = n_plus_one(page)
    for path in ("/_debug/", f"/_debug/records/{record_id}", f"/_debug/records/{record_id}/queries/1/explain"):
        response = page.goto(path)
        assert response.status == 403, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == "The debug panel is for staff users with the debug.view permission."
        assert "SELECT" not in page.content()


def test_the_list_fits_a_phone_and_dark_mode_is_dark(new_page: Any) -> None:
    phone = new_page(viewport={"width": 375, "height": 800})
    log_in(phone, STAFF)
    record_id = n_plus_one(phone)
    for path in ("/_debug/", f"/_debug/records/{record_id}"):
        phone.goto(path)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 375 + 2, (path, width)  # the body does not scroll sideways
    phone.goto("/_debug/")
    records = phone.get_by_role("region", name="Records")  # the wide table scrolls within its own region
    assert records.evaluate("e => e.scrollWidth > e.clientWidth")
    records.focus()  # from the keyboard too
    phone.keyboard.press("ArrowRight")
    phone.wait_for_function("document.activeElement.scrollLeft > 0")

    light = new_page()
    log_in(light, STAFF)
    light.goto(f"/_debug/records/{record_id}")
    assert luminance(light, "body", "backgroundColor") > 0.9
    assert luminance(light, "body", "color") < 0.05

    dark = new_page(color_scheme="dark")
    log_in(dark, STAFF)
    dark.goto(f"/_debug/records/{record_id}")
    assert luminance(dark, "body", "backgroundColor") < 0.05
    assert luminance(dark, "body", "color") > 0.7
    assert luminance(dark, "tr.warn", "backgroundColor") < 0.1  # the repeated statements' highlight too
    shot(dark, "panel-record-dark")
