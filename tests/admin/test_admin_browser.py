"""The admin UI in a real browser: Playwright for Python driving Debian's Chromium headless, against the example
blog served by uvicorn on a free port of 127.0.0.1 (SQLite in a temporary folder).

This file, run as a script, is the server: it creates the blog's tables, runs the blog's own seed (authors,
tags, posts and the staff user ``demo``, who may view, add and change posts but not delete them) and adds an
``editor`` who may also delete and a ``reader`` who is not staff. One browser serves all the tests; each test
gets a fresh context (no tokens carried over). About 20 s.

Set ``FASTMANGO_ADMIN_SCREENSHOTS=docs/admin`` to save the screenshots linked from docs/admin.md.
Without Chromium or Playwright the tests skip locally and fail under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import opened_page, screenshot
from tests.serving import served

ROOT = Path(__file__).resolve().parents[2]
BLOG = ROOT / "examples" / "blog"
ENVIRONMENT = {
    "FASTMANGO_ENV": "test",
    "FASTMANGO_LOG_LEVEL": "WARNING",
    "FASTMANGO_PASSWORD_ARGON2_TIME_COST": "1",
    "FASTMANGO_PASSWORD_ARGON2_MEMORY_KIB": "1024",
}
DEMO = ("demo", "demo-password")
EDITOR = ("editor", "editor-password")
READER = ("reader", "reader-password")
SCREENSHOTS = os.environ.get("FASTMANGO_ADMIN_SCREENSHOTS")


class SeededBlog:
    """The blog app; its lifespan creates the tables afresh and seeds them before serving."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        from asgi_lifespan import LifespanManager

        await receive()  # lifespan.startup
        try:
            async with LifespanManager(self.app):
                await self.seed()
                await send({"type": "lifespan.startup.complete"})
                await receive()  # lifespan.shutdown
        except Exception as exc:
            await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
            return
        await send({"type": "lifespan.shutdown.complete"})

    async def seed(self) -> None:
        from blog.seed import seed

        from fastmango.auth import User, sync_permissions
        from fastmango.db import create_all

        await create_all()
        await sync_permissions()
        await seed()
        editor = await User.objects.create_user(EDITOR[0], password=EDITOR[1], is_staff=True)
        await editor.grant("post.view", "post.add", "post.change", "post.delete", "author.view", "tag.view")
        await User.objects.create_user(READER[0], password=READER[1])


def serve() -> None:
    """Serve the seeded blog on a free port of 127.0.0.1 (printed first, on a line of its own)."""
    import uvicorn

    sys.path.insert(0, str(BLOG))
    from blog.app import app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(SeededBlog(app), log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


@pytest.fixture(scope="module")
def model_server() -> Iterator[Any]:
    """The assistant's model: a local OpenAI-compatible server answering from a script each test sets."""
    from tests.ai.openai_server import ScriptedServer, serve, text

    server = ScriptedServer([text("No script.")])
    with serve(server) as url:
        server.url = url  # type: ignore[attr-defined]
        yield server


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, model_server: Any) -> Iterator[str]:

    folder = tmp_path_factory.mktemp("admin-blog")
    log = folder / "server.log"
    env = {
        **os.environ,
        **ENVIRONMENT,
        "DATABASE_URL": f"sqlite:///{folder / 'blog.sqlite3'}",
        # the admin's assistant runs on the scripted server, through the settings a project would use
        "FASTMANGO_AI_MODELS": json.dumps({"default": "test", "assistant": "openai:scripted"}),
        "FASTMANGO_AI_OPENAI_BASE_URL": model_server.url,
        "FASTMANGO_ADMIN_ASSISTANT_MODEL": "assistant",
    }
    with served([sys.executable, __file__], env=env, cwd=folder, log=log) as url:
        yield url


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    with opened_page(browser, base_url, viewport={"width": 1200, "height": 800}) as opened:
        yield opened


def shot(page: Any, name: str, **options: Any) -> None:
    screenshot(page, SCREENSHOTS, name, **options)


def log_in(page: Any, user: tuple[str, str]) -> None:
    page.goto("/admin/")
    page.get_by_label("Username").fill(user[0])
    page.get_by_label("Password").fill(user[1])
    page.get_by_role("button", name="Log in").click()


def filters(page: Any) -> Any:
    return page.get_by_role("complementary", name="Filter")


def test_the_login_page_comes_first_and_refuses_a_wrong_password(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/admin/models/post")
    expect(page).to_have_url(re.compile(r"/admin/login\?next="))
    shot(page, "login")
    log_in(page, (DEMO[0], "not-the-password"))
    expect(page.get_by_role("alert")).to_contain_text("not right")


def test_list_with_search_and_a_relation_filter(page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page, EDITOR)
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    shot(page, "index")
    page.get_by_role("link", name="Posts", exact=True).click()
    table = page.get_by_role("table")
    expect(table.get_by_role("cell", name="Bernoulli numbers", exact=True)).to_be_visible()
    expect(table.get_by_role("cell", name="The moth in the relay", exact=True)).to_be_visible()
    expect(table.get_by_role("row").filter(has_text="Bernoulli numbers")).to_contain_text("Ada Lovelace")

    page.get_by_role("searchbox").fill("moth")
    page.get_by_role("button", name="Search").click()
    expect(table.get_by_role("cell", name="The moth in the relay", exact=True)).to_be_visible()
    expect(table.get_by_role("cell", name="Bernoulli numbers", exact=True)).to_have_count(0)
    page.get_by_role("searchbox").fill("")
    page.get_by_role("button", name="Search").click()

    author = filters(page).get_by_label("Author", exact=True)
    expect(author.locator("option", has_text="Ada Lovelace")).to_have_text(re.compile(r"Ada Lovelace \(2\)"))
    author.select_option(label=author.locator("option", has_text="Ada Lovelace").inner_text().strip())
    expect(page).to_have_url(re.compile(r"author"))
    expect(table.get_by_role("cell", name="Bernoulli numbers", exact=True)).to_be_visible()
    expect(table.get_by_role("cell", name="The moth in the relay", exact=True)).to_have_count(0)
    shot(page, "list")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    exported = Path(download.value.path()).read_text()
    assert exported.splitlines()[0].startswith("id,title")
    assert "Bernoulli numbers" in exported and "The moth in the relay" not in exported  # the filter applies

    page.set_viewport_size({"width": 375, "height": 800})
    shot(page, "list-375", full_page=True)
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": 1200, "height": 800})
    shot(page, "list-dark")


def test_create_edit_history_and_delete_a_post(page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page, EDITOR)
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.goto("/admin/models/post/add")
    expect(page.get_by_role("heading", name="Add post")).to_be_visible()
    page.get_by_label("Title").fill("Admin in a browser")
    page.get_by_label("Body").fill("Written by Playwright.")

    author = page.get_by_role("combobox", name="Author")
    author.fill("Gra")
    page.get_by_role("option", name="Grace Hopper").click()
    expect(author).to_have_value("Grace Hopper")
    tags = page.get_by_role("combobox", name="Tags")
    tags.fill("py")
    expect(page.get_by_role("option", name="python")).to_be_visible()
    tags.press("ArrowDown")
    tags.press("Enter")
    expect(page.get_by_role("list", name="Chosen tags")).to_contain_text("python")
    shot(page, "form", full_page=True)
    page.get_by_role("button", name="Save").click()

    heading = page.get_by_role("heading", name=re.compile("Change post"))
    expect(heading).to_contain_text("Admin in a browser")
    expect(page.get_by_role("status")).to_contain_text("saved")
    page.get_by_label("Title").fill("Admin in a browser, edited")
    page.get_by_role("button", name="Save").click()
    expect(heading).to_contain_text("Admin in a browser, edited")

    page.get_by_role("link", name="History").click()
    entries = page.get_by_role("listitem").filter(has_text="editor")
    expect(entries.first).to_contain_text("Admin in a browser, edited")
    expect(entries.first).to_contain_text("via admin")
    shot(page, "history")

    page.go_back()
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", name=re.compile("Delete post"))).to_contain_text("Admin in a browser, edited")
    shot(page, "delete")
    page.get_by_role("button", name="Yes, delete").click()
    expect(page.get_by_role("heading", name="Posts")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("deleted")
    expect(page.get_by_role("cell", name="Admin in a browser, edited", exact=True)).to_have_count(0)


def test_refused_values_show_next_to_their_fields(page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page, EDITOR)
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.goto("/admin/models/post/add")
    title = page.get_by_label("Title")
    title.fill("x" * 201)  # the model's max_length is 200: the API's 422 names the field
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("combobox", name="Author")).to_be_focused()  # required, checked before sending
    author = page.get_by_role("combobox", name="Author")
    author.fill("Ada")
    page.get_by_role("option", name="Ada Lovelace").click()
    page.get_by_role("button", name="Save").click()
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(title).to_be_focused()
    error = page.locator(f"#{title.get_attribute('aria-describedby')}")
    expect(error).to_contain_text("200")
    expect(page.get_by_role("heading", name="Add post")).to_be_visible()


def test_bulk_delete_asks_first(page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page, EDITOR)
    page.get_by_role("link", name="Posts", exact=True).click()
    page.get_by_role("checkbox", name="Select COBOL, a draft").check()
    page.get_by_label("Action").select_option("delete")
    page.get_by_role("button", name="Run").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("COBOL, a draft")
    shot(page, "bulk-delete")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("cell", name="COBOL, a draft", exact=True)).to_be_visible()


def test_a_user_without_post_delete_sees_no_delete_button(page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page, DEMO)
    page.get_by_role("link", name="Posts", exact=True).click()
    page.get_by_role("row").filter(has_text="Bernoulli numbers").get_by_role("link").first.click()
    expect(page.get_by_role("heading", name=re.compile("Change post"))).to_be_visible()
    expect(page.get_by_role("button", name="Save")).to_be_visible()
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)
    page.go_back()
    expect(page.get_by_label("Action").locator("option[value=delete]")).to_have_count(0)

    # a custom action the user may run (post.change), confirmed first
    row = page.get_by_role("row").filter(has_text="COBOL, a draft")
    expect(row.get_by_role("cell", name="No", exact=True)).to_be_visible()
    row.get_by_role("checkbox").check()
    page.get_by_label("Action").select_option(label="Publish")
    page.get_by_role("button", name="Run").click()
    page.get_by_role("dialog").get_by_role("button", name="Publish").click()
    expect(row.get_by_role("cell", name="Yes", exact=True)).to_be_visible()
    row.get_by_role("checkbox").check()
    page.get_by_label("Action").select_option(label="Unpublish")
    page.get_by_role("button", name="Run").click()
    page.get_by_role("dialog").get_by_role("button", name="Unpublish").click()
    expect(row.get_by_role("cell", name="No", exact=True)).to_be_visible()


def test_an_expired_access_token_is_refreshed_and_log_out_forgets_both(page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page, EDITOR)
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    key = "fastmango-admin-tokens"
    before = page.evaluate(f"JSON.parse(sessionStorage.getItem('{key}'))")
    page.evaluate(
        "([key, tokens]) => sessionStorage.setItem(key, JSON.stringify(tokens))", [key, {**before, "access": "x"}]
    )
    page.goto("/admin/models/post")  # a new page load: the tokens come from sessionStorage
    expect(page.get_by_role("cell", name="Bernoulli numbers", exact=True)).to_be_visible()
    after = page.evaluate(f"JSON.parse(sessionStorage.getItem('{key}'))")
    assert after["access"] not in ("x", before["access"])
    assert after["refresh"] != before["refresh"]  # rotated

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem('{key}')") is None
    page.goto("/admin/models/post")
    expect(page).to_have_url(re.compile(r"/admin/login"))


def test_a_user_who_is_not_staff_is_refused(page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page, READER)
    expect(page.get_by_role("heading", name="You are not allowed to use the admin")).to_be_visible()
    expect(page.get_by_role("link", name="Posts")).to_have_count(0)


def _tool_rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of the post_list results in a chat completions request."""
    rows = []
    for message in body["messages"]:
        if message.get("role") == "tool" and "items" in message.get("content", ""):
            rows.extend(json.loads(message["content"])["items"])
    return rows


def test_the_assistant_answers_and_asks_before_it_writes(page: Any, model_server: Any) -> None:
    from playwright.sync_api import expect

    from tests.ai.openai_server import text, tool_call

    def drafts(body: dict[str, Any]) -> dict[str, Any]:
        return text("The drafts: " + ", ".join(row["title"] for row in _tool_rows(body)) + ".")

    def publish(body: dict[str, Any]) -> dict[str, Any]:
        [cobol] = [row for row in _tool_rows(body) if row["title"] == "COBOL, a draft"]
        return tool_call("post_publish", {"pks": [cobol["id"]]})

    model_server.requests.clear()
    model_server.replies = [
        tool_call("post_list", {"filters": {"published": False}}),
        drafts,
        publish,
        text("Done: COBOL, a draft is published."),
    ]
    log_in(page, DEMO)
    page.get_by_role("link", name="Posts", exact=True).click()
    row = page.get_by_role("row").filter(has_text="COBOL, a draft")
    expect(row.get_by_role("cell", name="No", exact=True)).to_be_visible()
    page.get_by_role("button", name="Assistant").click()
    panel = page.get_by_role("complementary", name="Assistant")
    panel.get_by_label("Ask the assistant").fill("Which posts are drafts?")
    panel.get_by_role("button", name="Send").click()
    conversation = panel.get_by_role("list", name="Conversation")
    expect(conversation).to_contain_text("The drafts: COBOL, a draft.")

    panel.get_by_label("Ask the assistant").fill("Publish it")
    panel.get_by_label("Ask the assistant").press("Enter")
    dialog = page.get_by_role("dialog", name="Confirm the assistant's changes")
    expect(dialog).to_contain_text(re.compile(r'Publish: 1 post: "COBOL, a draft" \(#\d+\)'))
    expect(dialog.get_by_role("button", name="Reject all")).to_be_focused()
    expect(dialog.get_by_role("button", name="Apply decisions")).to_be_disabled()
    expect(row.get_by_role("cell", name="No", exact=True)).to_be_visible()  # nothing is written before approval
    shot(page, "assistant")
    page.keyboard.press("Escape")  # closes the dialog undecided; Review opens it again
    expect(dialog).to_be_hidden()
    panel.get_by_role("button", name="Review 1 proposed change(s)").click()
    dialog.get_by_role("radio", name="Approve").check()
    dialog.get_by_role("button", name="Apply decisions").click()
    expect(conversation).to_contain_text("Done: COBOL, a draft is published.")
    expect(row.get_by_role("cell", name="Yes", exact=True)).to_be_visible()  # the list reloaded
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": 375, "height": 800})
    shot(page, "assistant-375-dark", full_page=True)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1200, "height": 800})

    row.get_by_role("link").first.click()
    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("main")).to_contain_text("via AI tool post_publish on behalf of demo")
    assert len(model_server.requests) == 4


if __name__ == "__main__":
    serve()
