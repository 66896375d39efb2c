"""Who sees the debug panel (staff with debug.view, in DEBUG or when enabled), what it shows, and that with the
panel off nothing of it is there."""

from __future__ import annotations

import httpx
import pytest

from fastmango import FastMango
from fastmango.auth import User
from tests.auth.conftest import PASSWORD, started
from tests.devtools.conftest import build_app, staff_headers


async def login(client: httpx.AsyncClient, user: User) -> dict[str, str]:
    response = await client.post("/auth/token", data={"username": user.username, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_anonymous_callers_get_401_and_a_browser_the_login_form(client: httpx.AsyncClient) -> None:
    response = await client.get("/_debug/api/records")
    assert response.status_code == 401 and response.headers["content-type"] == "application/problem+json"
    page = await client.get("/_debug/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
    assert 'action="/auth/token?cookie=true"' in page.text and '<label for="password">' in page.text


@pytest.mark.parametrize(
    ("staff", "grant"), [(False, True), (True, False), (False, False)], ids=["not-staff", "no-permission", "neither"]
)
async def test_users_who_are_not_staff_with_debug_view_are_refused(
    client: httpx.AsyncClient, staff: bool, grant: bool
) -> None:
    headers = await staff_headers(client, staff=staff, grant=grant)
    for path in ("/_debug/", "/_debug/api/records"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 403, path
        assert "debug.view" in response.json()["detail"]


async def test_a_superuser_sees_the_panel_and_a_browser_logs_in_with_the_cookie(client: httpx.AsyncClient) -> None:
    await User.objects.create_superuser("root", PASSWORD)
    await client.get("/books")
    login = await client.post("/auth/token?cookie=true", data={"username": "root", "password": PASSWORD})
    assert login.status_code == 200
    page = await client.get("/_debug/", headers={"Accept": "text/html"})  # the cookie authenticates
    assert page.status_code == 200 and "GET /books" in page.text


async def test_the_record_page_highlights_repeated_statements_and_links_explain(client: httpx.AsyncClient) -> None:
    headers = await staff_headers(client)
    response = await client.get("/n-plus-one", headers=headers)
    record_id = response.headers["x-debug-record"]
    page = await client.get(f"/_debug/records/{record_id}", headers={**headers, "Accept": "text/html"})
    assert page.status_code == 200
    assert page.text.count("run 4 times in this request") == 4
    assert "select_related(&#34;author&#34;)" in page.text
    assert f"/_debug/records/{record_id}/queries/0/explain" in page.text


async def test_explain_shows_the_plan_of_a_recorded_select(client: httpx.AsyncClient) -> None:
    headers = await staff_headers(client)
    record_id = (await client.get("/n-plus-one", headers=headers)).headers["x-debug-record"]
    record = (await client.get(f"/_debug/api/records/{record_id}", headers=headers)).json()
    index = next(i for i, query in enumerate(record["queries"]) if query["model"] == "Author")
    plan = (await client.get(f"/_debug/api/records/{record_id}/queries/{index}/explain", headers=headers)).json()
    assert plan["sql"].startswith("SELECT author.id") and plan["plan"]
    assert any("author" in line.lower() for line in plan["plan"])


async def test_explain_refuses_what_is_not_a_recorded_select(app: FastMango, client: httpx.AsyncClient) -> None:
    headers = await staff_headers(client)
    created = await client.post("/books", json={"title": "New", "author_id": 1}, headers=headers)
    record_id = created.headers["x-debug-record"]
    record = (await client.get(f"/_debug/api/records/{record_id}", headers=headers)).json()
    insert = next(i for i, query in enumerate(record["queries"]) if query["sql"].startswith("INSERT"))
    refused = await client.get(f"/_debug/api/records/{record_id}/queries/{insert}/explain", headers=headers)
    assert refused.status_code == 400 and "Only a SELECT" in refused.json()["detail"]
    missing = await client.get(f"/_debug/api/records/{record_id}/queries/999/explain", headers=headers)
    assert missing.status_code == 404
    gone = await client.get("/_debug/api/records/0123456789abcdef", headers=headers)
    assert gone.status_code == 404 and "pruned" in gone.json()["detail"]


async def test_the_list_filters_by_kind_and_request_id(client: httpx.AsyncClient) -> None:
    headers = await staff_headers(client)
    response = await client.get("/books", headers={**headers, "X-Request-ID": "trace-42"})
    listed = (await client.get("/_debug/api/records", params={"request_id": "trace-42"}, headers=headers)).json()
    assert [summary["id"] for summary in listed] == [response.headers["x-debug-record"]]
    assert (await client.get("/_debug/api/records", params={"kind": "job"}, headers=headers)).json() == []


async def test_the_store_keeps_the_newest_records_up_to_its_bound(database_url: str) -> None:
    app = build_app(database_url, debug_panel_max_records=3)
    async with started(app) as client:
        headers = await staff_headers(client)
        ids = [(await client.get("/health", headers=headers)).headers["x-debug-record"] for _ in range(5)]
        listed = [summary["id"] for summary in (await client.get("/_debug/api/records", headers=headers)).json()]
    assert listed == ids[:-4:-1]


@pytest.mark.parametrize(
    "settings",
    [{"debug": False}, {"env": "prod", "debug": False}, {"debug": True, "debug_panel": False}],
    ids=["debug-off", "prod", "turned-off"],
)
async def test_with_the_panel_off_nothing_of_it_is_there(database_url: str, settings: dict[str, object]) -> None:
    app = build_app(database_url, **settings)
    async with started(app) as client:
        await User.objects.create_superuser("root", PASSWORD)
        headers = await login(client, await User.objects.get(username="root"))
        response = await client.get("/books", headers=headers)
        assert response.status_code == 200 and "x-debug-record" not in response.headers
        assert (await client.get("/_debug/api/records", headers=headers)).status_code == 404
        assert (await client.get("/_debug/", headers=headers)).status_code == 404


async def test_enabled_in_prod_only_the_requests_of_staff_users_are_recorded(database_url: str) -> None:
    app = build_app(database_url, env="prod", debug=False, debug_panel=True)
    async with started(app) as client:
        staff = await staff_headers(client)
        member = await User.objects.create_user("member", PASSWORD)
        await member.grant("book.view")
        staff_response = await client.get("/books", headers=staff)
        member_response = await client.get("/books", headers=await login(client, member))
        listed = (await client.get("/_debug/api/records", headers=staff)).json()
    assert staff_response.headers["x-debug-record"] in {summary["id"] for summary in listed}
    assert {summary["user"] for summary in listed} == {"devsg"}  # the member's and the logins' are not kept
    assert member_response.status_code == 200
    assert "x-debug-record" not in member_response.headers  # nor is the member told the panel is on
