"""Attacks on the developer tools: who reaches the panel (odd paths, methods, deactivated staff), secrets and huge
values in records, markup in every page, what EXPLAIN accepts, broken stored records, concurrent requests, bounds."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import orjson
import pytest

from fastmango import FastMango
from fastmango.auth import User
from fastmango.core import recorder
from fastmango.core.errors import ProblemError
from fastmango.core.recorder import Record
from fastmango.devtools import find_repeated
from fastmango.devtools.watchers import MAX_VALUE_LENGTH
from tests.auth.conftest import PASSWORD, started
from tests.db.models import Book
from tests.devtools.conftest import build_app, staff_headers

logger = logging.getLogger("tests.devtools.attacks")
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PSR5sWHz1234"
SCRIPT = "<script>alert(1)</script>"
HTML = {"Accept": "text/html"}


async def record_of(client: httpx.AsyncClient, response: httpx.Response, headers: dict[str, str]) -> dict[str, Any]:
    found = await client.get(f"/_debug/api/records/{response.headers['x-debug-record']}", headers=headers)
    assert found.status_code == 200, found.text
    return dict(found.json())


async def raw(
    app: FastMango, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str]]:
    """Send ``path`` to the app as it is (an HTTP client would resolve ``..`` and ``//`` first)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(message for message in sent if message["type"] == "http.response.start")
    return start["status"], {k.decode(): v.decode() for k, v in start.get("headers", [])}


# Access


async def test_every_panel_route_refuses_callers_without_debug_view(client: httpx.AsyncClient) -> None:
    staff = await staff_headers(client)
    record_id = (await client.get("/books", headers=staff)).headers["x-debug-record"]
    routes = [
        "/_debug/",
        "/_debug/api/records",
        f"/_debug/api/records/{record_id}",
        f"/_debug/api/records/{record_id}/queries/0/explain",
        f"/_debug/records/{record_id}",
        f"/_debug/records/{record_id}/queries/0/explain",
    ]
    callers = {
        401: [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": f"Bearer {JWT}"}],
        403: [await staff_headers(client, staff=False), await staff_headers(client, grant=False)],
    }
    for status, headers_list in callers.items():
        for headers in headers_list:
            for path in routes:
                for accept in ({}, HTML):
                    response = await client.get(path, headers={**headers, **accept})
                    assert response.status_code == status, (path, headers, accept)
                    assert "SELECT" not in response.text and "GET /books" not in response.text


async def test_the_token_of_a_deactivated_staff_user_opens_nothing(client: httpx.AsyncClient) -> None:
    headers = await staff_headers(client)
    assert (await client.get("/_debug/api/records", headers=headers)).status_code == 200
    user = await User.objects.get(username="devsg")
    user.is_active = False
    await user.save()
    for path in ("/_debug/", "/_debug/api/records"):
        assert (await client.get(path, headers=headers)).status_code in (401, 403), path


async def test_odd_forms_of_the_panel_path_are_no_bypass_and_no_500(app: FastMango, client: httpx.AsyncClient) -> None:
    member = await staff_headers(client, staff=False)
    for headers in ({}, member):
        for method in ("GET", "HEAD", "OPTIONS", "POST"):
            for path in (
                "/_debug",
                "/_debug/",
                "//_debug/",
                "/_debug/../_debug/",
                "/_debug/./api/records",
                "/_debug//api/records",
                "/_debug/api/records/",
                "/_DEBUG/api/records",
                "/_debug/api/records/%2e%2e",
                "/_debug/records/x/queries/0/explain/",
            ):
                status, _ = await raw(app, method, path, headers)
                assert status in (307, 401, 403, 404, 405), (method, path, headers, status)


@pytest.mark.parametrize("settings", [{"env": "prod", "debug": False}, {"debug": True, "debug_panel": False}])
async def test_with_the_panel_off_no_form_of_its_path_answers(database_url: str, settings: dict[str, Any]) -> None:
    app = build_app(database_url, **settings)
    async with started(app) as client:
        await User.objects.create_superuser("root", PASSWORD)
        token = (await client.post("/auth/token", data={"username": "root", "password": PASSWORD})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        for path in ("/_debug", "/_debug/", "//_debug/", "/_debug/../_debug/", "/_debug/api/records", "/_debug/x"):
            for method in ("GET", "HEAD"):
                status, answered = await raw(app, method, path, headers)
                assert status in (404, 405) and "x-debug-record" not in answered, (method, path, status)
        assert "x-debug-record" not in (await client.get("/books", headers=headers)).headers


# Secrets


async def test_no_credential_of_a_request_is_kept_in_its_record(app: FastMango, client: httpx.AsyncClient) -> None:
    @app.post("/signup")
    async def signup() -> dict[str, int]:
        user = await User.objects.create_user("newcomer", "tr0ub4dor&3")
        logger.warning("issued %s", JWT)
        return {"id": user.id}

    headers = await staff_headers(client)
    stored = []
    for response in (
        await client.post("/signup", headers=headers),
        await client.get(
            f"/books?access_token={JWT}&password=hunter2&title=x",
            headers={**headers, "Cookie": "fastmango_access=cookie-secret", "X-Api-Key": "key-secret"},
        ),
    ):
        stored.append(orjson.dumps(await record_of(client, response, headers)).decode())
    hashed = (await User.objects.get(username="newcomer")).hashed_password
    for text in stored:
        for secret in ("tr0ub4dor&3", hashed, JWT, JWT.split(".")[1], "hunter2", "cookie-secret", "key-secret"):
            assert secret not in text, secret
        assert headers["Authorization"].split()[1] not in text
    assert "title=x" in stored[1]  # what is not a secret stays readable


async def test_huge_and_nul_values_are_bounded_in_the_record_and_the_page(
    app: FastMango, client: httpx.AsyncClient
) -> None:
    huge = "x" * 2**20

    @app.get("/huge")
    async def huge_param() -> int:
        logger.warning("big %s", huge)
        return len(await Book.objects.filter(title=huge))

    headers = await staff_headers(client)
    response = await client.get(
        "/huge", params={"q": "y" * 60_000, "n": "a\x00b"}, headers={**headers, "X-Big": "z" * 60_000}
    )
    assert response.status_code == 200
    record = await record_of(client, response, headers)
    assert len(orjson.dumps(record)) < 40_000
    assert all(len(str(value)) <= 4 * MAX_VALUE_LENGTH for value in record["meta"]["headers"].values())
    page = await client.get(f"/_debug/records/{record['id']}", headers={**headers, **HTML})
    assert page.status_code == 200 and len(page.text) < 80_000
    assert (await client.get("/_debug/", headers={**headers, **HTML})).status_code == 200


# XSS


async def test_markup_from_a_request_is_escaped_in_every_page(app: FastMango, client: httpx.AsyncClient) -> None:
    @app.get("/evil")
    async def evil() -> None:
        logger.warning("log %s", SCRIPT)
        await Book.objects.filter(title=SCRIPT).count()
        raise RuntimeError(SCRIPT)

    headers = await staff_headers(client)
    assert (await client.get("/evil", headers={**headers, "X-Evil": SCRIPT})).status_code == 500
    not_found = await client.get(f"/{SCRIPT}", headers={**headers, "X-Evil": SCRIPT})
    records = (await client.get("/_debug/api/records", headers=headers)).json()
    [evil_record] = [summary for summary in records if summary["name"] == "GET /evil"]
    pages = [
        "/_debug/",
        f"/_debug/records/{evil_record['id']}",
        f"/_debug/records/{not_found.headers['x-debug-record']}",
    ]
    crafted = await saved(app, f"SELECT '{SCRIPT}' AS x", name=f"GET /{SCRIPT}")  # EXPLAIN shows SQL and name
    pages += [f"/_debug/records/{crafted}", f"/_debug/records/{crafted}/queries/0/explain"]
    for path in pages:
        page = await client.get(path, headers={**headers, **HTML})
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text and "&lt;script&gt;alert" in page.text, path


# EXPLAIN


async def saved(app: FastMango, *sql: str, name: str = "GET /crafted") -> str:
    record = Record(id="f" * 32, kind="request", name=name, started_at=time.time())
    entry = {"params": None, "duration_ms": 0.1, "rows": 0, "shape": None, "site": None, "connection": "sqlalchemy"}
    record.queries = [{"sql": text, **entry} for text in sql]
    await app.state.debug_store.save(record)
    return record.id


async def test_explain_refuses_all_but_one_select_and_never_changes_data(
    app: FastMango, client: httpx.AsyncClient
) -> None:
    headers = await staff_headers(client)
    refused = [
        "SELECT 1; DROP TABLE book",
        "SELECT 1 ;DELETE FROM book",
        "WITH x AS (DELETE FROM book RETURNING *) SELECT * FROM x",
        "/* hi */ SELECT 1",
        "-- hi\nSELECT 1",
        "DELETE FROM book",
        "EXPLAIN ANALYZE DELETE FROM book",
    ]
    odd = [  # a single SELECT the database may refuse to explain: a 400, not a 500
        "SELECT * FROM (WITH x AS (DELETE FROM book RETURNING *) SELECT * FROM x) AS y",
        "SELECT id FROM book FOR UPDATE",
        "SELECT $1",
        "SELECT '?' FROM book",
        "SELECT * FROM no_such_table",
        "SELECT id FROM book WHERE title = ?",
    ]
    fine = ["select id from book", "SELECT id FROM book;"]
    record_id = await saved(app, *refused, *odd, *fine)
    for index, sql in enumerate(refused + odd + fine):
        for path in (
            f"/_debug/api/records/{record_id}/queries/{index}/explain",
            f"/_debug/records/{record_id}/queries/{index}/explain",
        ):
            response = await client.get(path, headers=headers)
            if sql in refused:
                assert response.status_code == 400, (sql, response.text)
            elif sql in fine:
                assert response.status_code == 200, (sql, response.text)
            else:
                assert response.status_code in (200, 400), (sql, response.text)
    assert await Book.objects.count() == 4
    assert (await client.get("/books", headers=headers)).status_code == 200


async def test_a_data_modifying_with_that_got_past_the_check_deletes_nothing(
    app: FastMango, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastmango.devtools import explain

    monkeypatch.setattr(explain, "explainable", lambda sql: True)  # the second line: no EXPLAIN ANALYZE, read only
    for sql in ("WITH x AS (DELETE FROM book RETURNING *) SELECT * FROM x", "DELETE FROM book"):
        try:
            await explain.explain(sql)
        except ProblemError as exc:
            assert exc.status == 400
    assert await Book.objects.count() == 4


async def test_explain_of_a_query_index_that_is_not_there_is_404_or_422(
    app: FastMango, client: httpx.AsyncClient
) -> None:
    headers = await staff_headers(client)
    record_id = await saved(app, "SELECT 1")
    for index, status in (("1", 404), ("-1", 404), ("99999999999999999999999", 404), ("x", 422), ("1.5", 422)):
        for prefix in ("/_debug/api/records", "/_debug/records"):
            response = await client.get(f"{prefix}/{record_id}/queries/{index}/explain", headers=headers)
            assert response.status_code == status, (prefix, index, response.text)
    assert (await client.get("/_debug/api/records/nope/queries/0/explain", headers=headers)).status_code == 404


# Robustness


async def test_a_broken_record_in_redis_does_not_break_the_panel(database_url: str, redis_url: str) -> None:
    from fastmango.core.redis import redis_client
    from fastmango.devtools.store import INDEX_KEY, RECORD_KEY

    app = build_app(database_url, redis_url=redis_url, debug_panel_store="redis")
    async with started(app) as client:
        connection: Any = redis_client(redis_url)
        try:
            await connection.delete(INDEX_KEY)
            headers = await staff_headers(client)
            good = (await client.get("/books", headers=headers)).headers["x-debug-record"]
            for broken, value in (("garbage", b"{not json"), ("wrong", b'{"x": 1}'), ("list", b"[1, 2]")):
                await connection.set(RECORD_KEY + broken, value)
                await connection.lpush(INDEX_KEY, broken)
            listed = await client.get("/_debug/api/records", headers=headers)
            assert listed.status_code == 200 and good in {summary["id"] for summary in listed.json()}
            assert (await client.get("/_debug/", headers={**headers, **HTML})).status_code == 200
            for broken in ("garbage", "wrong", "list"):
                assert (await client.get(f"/_debug/api/records/{broken}", headers=headers)).status_code == 404
            assert (await client.get(f"/_debug/records/{good}", headers={**headers, **HTML})).status_code == 200
        finally:
            await connection.delete(INDEX_KEY, *(RECORD_KEY + key for key in ("garbage", "wrong", "list")))
            await connection.aclose()


async def test_concurrent_requests_each_keep_their_own_statements(app: FastMango, client: httpx.AsyncClient) -> None:
    @app.get("/tagged/{n}")
    async def tagged(n: int) -> int:
        await asyncio.sleep(0.001 * (n % 5))
        count = await Book.objects.filter(title=f"tag-{n}").count()
        await asyncio.sleep(0.001 * (n % 3))
        return count + len(await Book.objects.filter(title=f"again-{n}"))

    headers = await staff_headers(client)
    responses = await asyncio.gather(*(client.get(f"/tagged/{n}", headers=headers) for n in range(50)))
    for n, response in enumerate(responses):
        record = await record_of(client, response, headers)
        seen = orjson.dumps([query["params"] for query in record["queries"]]).decode()
        assert f'"tag-{n}"' in seen and f'"again-{n}"' in seen, n
        others = [m for m in range(50) if m != n and (f'"tag-{m}"' in seen or f'"again-{m}"' in seen)]
        assert others == [], (n, others)


async def test_each_section_is_bounded_and_counts_what_it_dropped(
    app: FastMango, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder, "MAX_ENTRIES", 20)

    @app.get("/many")
    async def many() -> int:
        for number in range(25):
            logger.warning("line %d", number)
            await Book.objects.filter(title=str(number)).count()
        return 25

    headers = await staff_headers(client)
    record = await record_of(client, await client.get("/many", headers=headers), headers)
    assert len(record["queries"]) == 20 and record["dropped"]["queries"] >= 5
    assert len(record["logs"]) == 20 and record["dropped"]["logs"] >= 5


@pytest.mark.parametrize("groups", [1, 333, 1000], ids=["one-shape", "groups-of-3", "all-distinct"])
def test_the_n_plus_one_analysis_of_1000_statements_is_fast(groups: int) -> None:
    queries = [
        {"sql": f"SELECT * FROM t{n % groups} WHERE id = ?", "shape": f"s{n % groups}", "executemany": False}
        for n in range(1000)
    ]
    started_at = time.perf_counter()
    warnings = find_repeated(queries)
    elapsed = time.perf_counter() - started_at
    assert len(warnings) == (groups if groups < 1000 else 0)
    assert elapsed < 0.5, elapsed
