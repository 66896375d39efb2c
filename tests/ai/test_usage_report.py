"""``usage_report``: AI usage grouped for ``fastmango ai usage`` and ``GET /ai/usage``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from fastmango import FastMango
from fastmango.ai import UsageRecord
from fastmango.ai.usage_report import usage_report
from fastmango.cli.ai_usage import render
from fastmango.testing import capture_queries
from tests.ai.conftest import empty_usage_ledger, make_user
from tests.ai.test_openai_wire import login


@pytest.fixture
async def usage(app: FastMango, client: httpx.AsyncClient) -> AsyncIterator[None]:
    """The started app with an empty ai_usage table (emptied again afterwards)."""
    await empty_usage_ledger(app)
    yield
    await empty_usage_ledger(app)


async def test_by_user_shows_usernames_read_in_one_query(usage: None) -> None:
    ann, bob, gone = await make_user("ann"), await make_user("bob"), await make_user("gone")
    records = [(ann.id, 10), (ann.id, 5), (bob.id, 7), (gone.id, 1), (None, 2)]
    await UsageRecord.objects.bulk_create(
        [UsageRecord(user_id=user_id, requests=1, input_tokens=tokens) for user_id, tokens in records]
    )
    await gone.delete()
    with capture_queries() as queries:
        report = await usage_report(by="user")
    keys = {row["key"]: row["input_tokens"] for row in report["rows"]}
    assert keys == {"-": 2, "ann": 15, "bob": 7, f"#{gone.id} (deleted)": 1}
    assert len([q for q in queries.selects if "auth_user" in q]) == 1  # one query for every user, not one each
    first_column = [line.split()[0] for line in render(report, "table").splitlines()]
    assert first_column == ["user", f"#{gone.id}", "-", "ann", "bob", "TOTAL"]


@pytest.mark.parametrize("since", ["yesterday", "7 days", "2025-13-01"])
async def test_an_unreadable_since_is_a_400_naming_the_parameter(
    usage: None, client: httpx.AsyncClient, since: str
) -> None:
    staff = await make_user("boss")
    staff.is_staff = True
    await staff.save()
    response = await client.get("/ai/usage", params={"since": since}, headers=await login(client, "boss"))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["parameter"] == "since" and since in response.json()["detail"]


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        ("99999999d", None, ("0001-01-01T00:00:00Z", None)),
        ("999999999999h", None, ("0001-01-01T00:00:00Z", None)),
        (
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-05:00",
            ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"),
        ),
        ("2025-01-31t09:30:00z", None, ("2025-01-31T09:30:00Z", None)),
        ("", "", (None, None)),  # empty: no bound, as the published pattern allows
    ],
)
async def test_a_moment_the_schema_allows_is_answered_beyond_the_years_a_datetime_holds(
    app: FastMango, usage: None, client: httpx.AsyncClient, since: str, until: str | None, expected: tuple[str, str]
) -> None:
    """Schema-valid values (a duration of up to 12 digits, an RFC 3339 date-time) are never a 400: a moment
    before the year 1 or after 9999 in UTC is the first or last one a datetime holds (schemathesis found
    ``since=99999999d`` refused while the schema allowed it)."""
    staff = await make_user("boss")
    staff.is_staff = True
    await staff.save()
    params = {"since": since} | ({"until": until} if until is not None else {})
    response = await client.get("/ai/usage", params=params, headers=await login(client, "boss"))
    assert response.status_code == 200, response.text
    assert (response.json()["since"], response.json()["until"]) == expected
    parameters = app.openapi()["paths"]["/ai/usage"]["get"]["parameters"]
    schemas = [p["schema"]["anyOf"] for p in parameters if p["name"] in ("since", "until")]
    assert len(schemas) == 2 and all({"type": "string", "format": "date-time"} in anyof for anyof in schemas)


async def test_by_is_an_enum_and_a_bad_one_is_a_422_naming_the_query_parameter(
    app: FastMango, usage: None, client: httpx.AsyncClient
) -> None:
    [by] = [p for p in app.openapi()["paths"]["/ai/usage"]["get"]["parameters"] if p["name"] == "by"]
    assert by["schema"]["enum"] == ["model", "agent", "tool", "user", "route", "day"]
    staff = await make_user("boss")
    staff.is_staff = True
    await staff.save()
    response = await client.get("/ai/usage?by=colour", headers=await login(client, "boss"))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["query", "by"]
    assert "--by" not in response.text
