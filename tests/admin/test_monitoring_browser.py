"""The monitoring pages of the admin in a real browser: the dashboard, the task monitor and the log viewer, driven
by Playwright in Debian's Chromium against the example blog served by uvicorn on a free port (SQLite in a
temporary folder, the inline task backend, metrics and the log stream in process).

This file, run as a script, is the server: the seeded blog of ``test_admin_browser`` plus three tasks (one fails
its first run, one is deferred, one is on a cron schedule), a few routes the tests call to make traffic, errors,
jobs and log lines, a staff user ``monitor`` with ``monitoring.view`` and ``monitoring.change`` and a staff user
``outsider`` without them. One server and one browser for the module. About 30 s.

Set ``FASTMANGO_MONITORING_SCREENSHOTS=docs/monitoring`` to save the screenshots linked from docs/monitoring.md.
Without Chromium or Playwright the tests skip locally and fail under ``CI=true``.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fastmango
from tests.browser import opened_page, screenshot
from tests.serving import served

if __name__ == "__main__":  # the server: tests.admin must be importable from the repository's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.admin.test_admin_browser import BLOG, ENVIRONMENT, SeededBlog, log_in

MONITOR = ("monitor", "monitor-password")
WATCHER = ("watcher", "watcher-password")
OUTSIDER = ("outsider", "outsider-password")
SCREENSHOTS = os.environ.get("FASTMANGO_MONITORING_SCREENSHOTS")
PAGES = ("dashboard", "tasks", "logs")


class MonitoredBlog(SeededBlog):
    """The seeded blog with a user who may watch it and one who may not."""

    async def seed(self) -> None:
        from fastmango.auth import User

        await super().seed()
        monitor = await User.objects.create_user(MONITOR[0], password=MONITOR[1], is_staff=True)
        await monitor.grant("monitoring.view", "monitoring.change", "post.view", "author.view", "tag.view")
        watcher = await User.objects.create_user(WATCHER[0], password=WATCHER[1], is_staff=True)
        await watcher.grant("monitoring.view")
        outsider = await User.objects.create_user(OUTSIDER[0], password=OUTSIDER[1], is_staff=True)
        await outsider.grant("post.view")


def build() -> Any:
    """The blog app with the tasks and the routes the tests use to cause what the pages show."""
    sys.path.insert(0, str(BLOG))
    import blog.app

    app: fastmango.FastMango = blog.app.app

    attempts: dict[str, int] = {}

    @fastmango.task
    async def send_digest(ctx: fastmango.TaskContext, recipient: str) -> str:
        """Fails the first time for each recipient (the mail server is away), works when retried."""
        attempts[recipient] = attempts.get(recipient, 0) + 1
        if attempts[recipient] == 1:
            raise ConnectionError(f"the mail server refused the digest for {recipient}")
        return f"sent to {recipient}"

    @fastmango.task
    async def rebuild_search_index(ctx: fastmango.TaskContext, section: str = "posts") -> str:
        return section

    @fastmango.task(cron="0 3 * * *")
    async def prune_drafts(ctx: fastmango.TaskContext) -> int:
        return 0

    @app.get("/traffic/{n}")
    async def traffic(n: int) -> dict[str, int]:
        from blog.models import Post

        return {"n": n, "posts": await Post.objects.count()}

    @app.get("/traffic-error")
    async def traffic_error() -> None:
        raise RuntimeError("a deliberate error for the dashboard")

    @app.post("/jobs/failing")
    async def failing() -> dict[str, str]:
        job = await send_digest.enqueue(recipient=f"ada-{uuid.uuid4().hex[:6]}@example.com")
        return {"job_id": job.id}

    @app.post("/jobs/deferred")
    async def deferred() -> dict[str, str]:
        job = await rebuild_search_index.enqueue(section="authors", _defer_by=3600)
        return {"job_id": job.id}

    @app.post("/log")
    async def log(message: str) -> dict[str, bool]:
        logging.getLogger("blog.audit").warning("%s", message)
        return {"ok": True}

    return app


def serve() -> None:
    """Serve the app on a free port of 127.0.0.1 (printed first, on a line of its own)."""
    import uvicorn

    app = build()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(MonitoredBlog(app), log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:

    folder = tmp_path_factory.mktemp("monitoring-blog")
    log = folder / "server.log"
    env = {
        **os.environ,
        **ENVIRONMENT,
        "FASTMANGO_LOG_LEVEL": "INFO",
        "DATABASE_URL": f"sqlite:///{folder / 'blog.sqlite3'}",
        "FASTMANGO_TASK_BACKEND": "inline",
        "FASTMANGO_TASK_EVENTS_FLUSH_SECONDS": "0.2",
        "FASTMANGO_METRICS_SLOW_STATEMENT_MS": "0",  # every statement is "slow": the table has rows to show
    }
    env.pop("REDIS_URL", None)
    with served([sys.executable, __file__], env=env, cwd=folder, log=log) as url:
        yield url


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    # 15 s, as Playwright's assertions wait (tests.browser): the pages poll every 5 s.
    with opened_page(browser, base_url, viewport={"width": 1280, "height": 800}, timeout=15_000) as opened:
        yield opened


def shot(page: Any, name: str, **options: Any) -> None:
    screenshot(page, SCREENSHOTS, name, max_bytes=300_000, **options)


def signed_in(page: Any, user: tuple[str, str]) -> None:
    from playwright.sync_api import expect

    log_in(page, user)
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def test_the_dashboard_shows_the_requests_made(page: Any, base_url: str) -> None:
    import httpx
    from playwright.sync_api import expect

    with httpx.Client(base_url=base_url) as client:
        for n in range(7):
            assert client.get(f"/traffic/{n}").status_code == 200
        assert client.get("/traffic-error").status_code == 500
    signed_in(page, MONITOR)
    nav = page.get_by_role("navigation", name="Monitoring")
    nav.get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(re.compile(r"/admin/dashboard$"))
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()

    routes = page.get_by_role("region", name="Slowest routes")
    row = routes.get_by_role("row").filter(has_text="/traffic/{n}")
    expect(row.get_by_role("cell").nth(1)).to_have_text("7")  # the route template, counted once per request
    error_row = routes.get_by_role("row").filter(has_text="/traffic-error")
    expect(error_row.get_by_role("cell").nth(2)).to_have_text("1")
    requests = int(page.locator("[data-stat=requests]").inner_text().replace(",", ""))
    assert requests >= 8
    expect(page.locator("[data-stat=error-rate]")).not_to_have_text("0.0%")
    expect(page.locator("[data-stat=p95]")).to_have_text(re.compile(r"\d"))
    expect(page.locator("[data-stat=processes]")).to_have_text("1")
    statements = page.get_by_role("region", name="Slowest statements")
    expect(statements.get_by_role("row").filter(has_text=re.compile("select", re.I)).first).to_be_visible()

    # Both charts are drawn, each with its caption, a summary for screen readers and the numbers as a table.
    for caption in ("Requests and errors per minute", "p95 latency per minute"):
        figure = page.get_by_role("figure", name=re.compile(caption))
        expect(figure).to_be_visible()
        canvas = figure.get_by_role("img")
        expect(canvas).to_have_attribute("aria-label", re.compile(r"highest"))
        assert canvas.evaluate("(c) => c.width > 0 && c.getContext('2d') !== null")
        figure.get_by_text("Data table").click()
        expect(figure.get_by_role("table")).to_be_visible()
    table = page.get_by_role("figure", name=re.compile("Requests and errors")).get_by_role("table")
    counted = table.evaluate(
        "(t) => [...t.tBodies[0].rows].reduce((sum, row) => sum + Number(row.cells[1].textContent), 0)"
    )
    assert counted >= 8
    page.get_by_role("figure", name=re.compile("p95 latency")).get_by_text("Data table").click()

    # The window selector: the URL follows it, and the hour window still counts the same requests.
    page.get_by_label("Last 1 hour").check()
    expect(page).to_have_url(re.compile(r"window=1h"))
    expect(row.get_by_role("cell").nth(1)).to_have_text("7")
    page.get_by_label("Last 15 min").check()
    page.wait_for_timeout(300)
    shot(page, "dashboard")

    page.set_viewport_size({"width": 375, "height": 800})
    page.emulate_media(color_scheme="dark")
    page.wait_for_timeout(300)
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        "[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > 376)"
        ".slice(0, 5).map((e) => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
    )
    assert width <= 375, f"the page is {width} px wide at 375 px: {wide}"
    shot(page, "dashboard-375-dark")


def test_a_failed_job_is_retried_and_a_deferred_one_aborted(page: Any, base_url: str) -> None:
    import httpx
    from playwright.sync_api import expect

    with httpx.Client(base_url=base_url) as client:
        failed = client.post("/jobs/failing").json()["job_id"]
        deferred = client.post("/jobs/deferred").json()["job_id"]
    signed_in(page, MONITOR)
    page.get_by_role("navigation", name="Monitoring").get_by_role("link", name="Tasks").click()
    expect(page.get_by_role("heading", name="Task monitor", level=1)).to_be_visible()
    expect(page.get_by_text("Jobs run inside the app's processes")).to_be_visible()  # the inline backend
    schedule = page.get_by_role("region", name="Schedule")
    expect(schedule.get_by_role("row").filter(has_text="prune_drafts")).to_contain_text("0 3 * * *")
    expect(schedule.get_by_role("row").filter(has_text="prune_drafts")).to_contain_text("Never")

    jobs = page.get_by_role("region", name="Jobs")
    failed_row = jobs.get_by_role("row").filter(has=page.get_by_role("link", name=f"Job {failed} of send_digest"))
    expect(failed_row).to_contain_text("Failed")
    expect(failed_row).to_contain_text("the mail server refused")
    deferred_row = jobs.get_by_role("row").filter(has=page.get_by_role("link", name=re.compile(f"Job {deferred}")))
    expect(deferred_row).to_contain_text("Queued")

    page.get_by_label("State").select_option("failed")
    expect(page).to_have_url(re.compile(r"state=failed"))
    expect(deferred_row).to_have_count(0)
    expect(failed_row).to_be_visible()
    failed_row.get_by_role("link").click()
    detail = page.get_by_role("region", name=f"Job {failed}")
    events = detail.get_by_role("list", name="Events, oldest first")
    expect(events.get_by_role("listitem").filter(has_text="Failed")).to_contain_text("the mail server refused")
    expect(events.get_by_role("listitem").first).to_contain_text("Queued")
    shot(page, "tasks", full_page=True)

    failed_row.get_by_role("button", name=f"Retry job {failed}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Retry job {failed}?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    dialog.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status").filter(has_text="retried as job")).to_be_attached()
    page.get_by_label("State").select_option("")
    expect(page.get_by_role("region", name=re.compile(r"^Job (?!" + failed + ")"))).to_contain_text("Succeeded")

    deferred_row.get_by_role("button", name=f"Abort job {deferred}").click()
    dialog.get_by_role("button", name="Abort job").click()
    expect(deferred_row).to_contain_text("Aborted")
    expect(deferred_row.get_by_role("button")).to_have_count(0)
    with httpx.Client(base_url=base_url) as client:
        token = client.post("/auth/token", data={"username": MONITOR[0], "password": MONITOR[1]}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        deadline = time.monotonic() + 10
        while (state := job_state(client, headers, deferred)) != "aborted" and time.monotonic() < deadline:
            time.sleep(0.1)  # the aborted event is written with the next batch of job events
    assert state == "aborted"
    expect(deferred_row).to_contain_text("Aborted")  # as the record tells it, after the next refresh


def test_the_log_viewer_shows_a_line_as_it_is_logged(page: Any, base_url: str) -> None:
    import httpx
    from playwright.sync_api import expect

    signed_in(page, MONITOR)
    page.get_by_role("navigation", name="Monitoring").get_by_role("link", name="Logs").click()
    expect(page.get_by_role("heading", name="Logs", level=1)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
    lines = page.get_by_role("log", name="Log lines, oldest first")

    with httpx.Client(base_url=base_url) as client:
        before = f"logged before the viewer filtered {uuid.uuid4().hex[:8]}"
        client.post("/log", params={"message": before})
        expect(lines).to_contain_text(before)  # live, while the page is open

        page.get_by_label("Level").select_option("WARNING")
        page.get_by_label("Logger").fill("blog.audit")
        page.get_by_role("button", name="Apply").click()
        expect(page).to_have_url(re.compile(r"level=WARNING&logger=blog\.audit"))
        expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
        expect(lines).to_contain_text(before)  # the history comes first
        live = f"Payment provider answered slowly {uuid.uuid4().hex[:8]}"
        client.post("/log", params={"message": live})
        line = lines.get_by_role("listitem").filter(has_text=live)
        expect(line).to_contain_text("WARNING")
        expect(line).to_contain_text("blog.audit")

        page.get_by_role("button", name="Pause").click()
        held = f"held while paused {uuid.uuid4().hex[:8]}"
        client.post("/log", params={"message": held})
        expect(page.get_by_text("1 new line waiting")).to_be_visible()
        expect(lines).not_to_contain_text(held)
        page.get_by_role("button", name="Resume").click()
        expect(lines).to_contain_text(held)
        for n in range(3):
            client.post("/log", params={"message": f"retrying the webhook delivery, attempt {n + 1}"})
        expect(lines).to_contain_text("attempt 3")
        shot(page, "logs")

        # Scrolled up, the list stays where the reader is; Jump to latest follows the new lines again.
        for n in range(40):
            client.post("/log", params={"message": f"filler line {n}"})
        expect(lines).to_contain_text("filler line 39")
        lines.evaluate("(list) => list.scrollTo(0, 0)")
        expect(page.get_by_role("button", name="Jump to latest")).to_be_visible()
        client.post("/log", params={"message": "logged while scrolled up"})
        expect(lines).to_contain_text("logged while scrolled up")
        assert lines.evaluate("(list) => list.scrollTop") == 0
        page.get_by_role("button", name="Jump to latest").click()
        assert lines.evaluate("(list) => list.scrollTop + list.clientHeight >= list.scrollHeight - 24")


def test_staff_who_may_view_but_not_change_get_no_retry_nor_abort(page: Any, base_url: str) -> None:
    import httpx
    from playwright.sync_api import expect

    with httpx.Client(base_url=base_url) as client:
        failed = client.post("/jobs/failing").json()["job_id"]
    signed_in(page, WATCHER)
    page.get_by_role("navigation", name="Monitoring").get_by_role("link", name="Tasks").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"Job {failed} of send_digest"))
    expect(row).to_contain_text("Failed")
    row.get_by_role("link").click()
    expect(page.get_by_role("region", name=f"Job {failed}")).to_contain_text("the mail server refused")
    expect(page.get_by_role("button", name=re.compile("Retry|Abort"))).to_have_count(0)


def job_state(client: Any, headers: dict[str, str], job_id: str) -> str:
    response = client.get(f"/admin/api/monitoring/tasks/jobs/{job_id}", headers=headers)
    assert response.status_code == 200, response.text
    state: str = response.json()["job"]["state"]
    return state


@pytest.mark.parametrize("name", PAGES)
def test_staff_without_monitoring_view_is_refused(page: Any, name: str) -> None:
    from playwright.sync_api import expect

    signed_in(page, OUTSIDER)
    expect(page.get_by_role("navigation", name="Monitoring")).to_have_count(0)
    page.goto(f"/admin/{name}")
    expect(page.get_by_role("heading", name="You are not allowed to see monitoring")).to_be_visible()
    expect(page.get_by_role("table")).to_have_count(0)
    expect(page.get_by_role("log")).to_have_count(0)


if __name__ == "__main__":
    serve()
