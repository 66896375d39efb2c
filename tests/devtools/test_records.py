from __future__ import annotations

import httpx

from fastmango.testing import capture_queries


async def test_every_statement_of_a_crud_request_is_in_its_record(client: httpx.AsyncClient) -> None:
    headers = await staff_headers(client)
    with capture_queries() as queries:
        response = await client.get("/books", params={"ordering": "-id", "search": "book"}, headers=headers)
    assert response.status_code == 200, response.text
    record_id = response.headers["x-debug-record"]
    record = (await client.get(f"/_debug/api/records/{record_id}", headers=headers)).json()
    assert [q["sql"] for q in record["queries"]] == [event.sql for event in queries.events]
    assert record["status"] == 200 and record["name"] == "GET /books"
    assert all(q["site"] is None or "fastmango" not in q["site"] for q in record["queries"])


from tests.devtools.conftest import staff_headers  # noqa: E402
