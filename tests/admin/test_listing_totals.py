"""A list's total (fastmango/admin/listing.py count): exact up to COUNT_LIMIT rows, and no COUNT at all for a big
unfiltered, unscoped table on PostgreSQL (the planner's estimate)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from fastmango.admin import listing
from fastmango.db import execute
from fastmango.db.engine import get_database
from fastmango.testing import capture_queries
from tests.admin.conftest import headers_for
from tests.db.models import Author

API = "/admin/api"


async def test_a_big_tables_unfiltered_list_runs_no_count(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "COUNT_LIMIT", 5)
    await Author.objects.bulk_create([Author(name=f"author {i:02}") for i in range(20)])
    postgres = execute.dialect() == "postgresql"
    if postgres:
        async with get_database().autocommit_engine.connect() as conn:
            await conn.execute(text("ANALYZE author"))
    staff = await headers_for(client, "staff", "author.view")
    with capture_queries() as queries:
        listed = (await client.get(f"{API}/models/author?limit=3", headers=staff)).json()
    counts = [sql for sql in queries if "count(" in sql.lower()]
    assert len(listed["items"]) == 3 and listed["total_is_estimate"]
    if postgres:
        assert counts == [] and listed["total"] == 20  # the planner's estimate, exact after ANALYZE here
    else:
        assert len(counts) == 1 and listed["total"] == 5  # SQLite has no estimate: a lower bound
    filtered = (await client.get(f"{API}/models/author?search=author 0", headers=staff)).json()
    assert filtered["total"] == 5 and filtered["total_is_estimate"]  # filtered: a capped COUNT, a lower bound
    few = (await client.get(f"{API}/models/author?search=author 01", headers=staff)).json()
    assert few["total"] == 1 and not few["total_is_estimate"]
