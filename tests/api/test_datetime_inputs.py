"""Date-times at the API boundary: a body must give an offset (422 otherwise); a filter without one means UTC."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlmodel import SQLModel

from fastmango import FastMango
from fastmango.api import CRUDRouter
from fastmango.db import Field, Model
from fastmango.testing import app_client
from tests.auth.conftest import database_url, make_settings  # noqa: F401  (fixture)


class ApiEvent(Model, table=True):
    __tablename__ = "fm_api_event"

    id: int | None = Field(default=None, primary_key=True)
    when: datetime.datetime
    until: datetime.datetime | None = None
    done: bool = False


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    app = FastMango(settings=make_settings(database_url), configure_logging=False)
    app.include_router(CRUDRouter(ApiEvent, prefix="/events", permissions=False, filter_fields=["when", "done"]))
    async with app_client(app) as client:
        table = SQLModel.metadata.tables["fm_api_event"]
        async with app.state.database.engine.begin() as conn:
            await conn.run_sync(lambda sync: table.drop(sync, checkfirst=True))
            await conn.run_sync(lambda sync: table.create(sync))
            history = SQLModel.metadata.tables["api_history"]  # every write is recorded
            await conn.run_sync(lambda sync: history.create(sync, checkfirst=True))
        yield client


@pytest.mark.parametrize("field", ["when", "until"])
async def test_a_body_date_time_without_an_offset_is_a_422_naming_the_field(
    client: httpx.AsyncClient, field: str
) -> None:
    body = {"when": "2026-01-01T10:00:00Z", field: "2026-01-01T10:00:00"}
    response = await client.post("/events", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", field]
    assert "timezone" in response.json()["detail"]


async def test_aware_values_are_stored_in_utc_and_a_naive_filter_means_utc(client: httpx.AsyncClient) -> None:
    created = await client.post("/events", json={"when": "2026-01-01T12:00:00+02:00"})
    assert created.status_code == 201, created.text
    assert created.json()["when"] == "2026-01-01T10:00:00Z"
    patched = await client.patch(f"/events/{created.json()['id']}", json={"when": "2026-01-01T10:00:00"})
    assert patched.status_code == 422
    assert (await client.get("/events", params={"when__gte": "2026-01-01T10:00:00"})).json()["total"] == 1
    assert (await client.get("/events", params={"when__gt": "2026-01-01T10:00:00"})).json()["total"] == 0
    assert (await client.get("/events", params={"when__gte": "2026-01-01T11:00:00+02:00"})).json()["total"] == 1


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"])
async def test_a_date_time_outside_utc_years_1_to_9999_is_a_422_in_a_body_and_a_400_in_a_filter(
    client: httpx.AsyncClient, moment: str
) -> None:
    response = await client.post("/events", json={"when": moment})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "when"]
    created = await client.post("/events", json={"when": "2026-01-01T10:00:00Z"})
    response = await client.patch(f"/events/{created.json()['id']}", json={"until": moment})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "until"]
    for parameter in ("when", "when__gte", "when__in"):
        response = await client.get("/events", params={parameter: moment})
        assert response.status_code == 400, response.text
        assert response.json()["parameter"] == parameter and "out of range" in response.json()["detail"]
    edges = {"when__gte": "0001-01-01T05:00:00+05:00", "when__lte": "9999-12-31T18:59:59-05:00"}
    assert (await client.get("/events", params=edges)).json()["total"] == 1


@pytest.mark.parametrize(
    ("field", "value"), [("when", 0), ("when", 0.5), ("until", "1700000000"), ("done", 0), ("done", "no")]
)
async def test_a_body_value_of_another_json_type_than_its_schema_is_a_422_naming_the_field(
    client: httpx.AsyncClient, field: str, value: object
) -> None:
    """Pydantic's lax mode read ``0`` as ``False`` and a number as a Unix time; the schema says boolean and
    date-time text, and schemathesis' negative cases found ``"published": 0`` accepted."""
    body = {"when": "2026-01-01T10:00:00Z", field: value}
    response = await client.post("/events", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", field]
    created = await client.post("/events", json={"when": "2026-01-01T10:00:00Z", "done": True})
    assert created.status_code == 201, created.text
    response = await client.patch(f"/events/{created.json()['id']}", json={field: value})
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    ("parameter", "value"), [("when", "0.5"), ("when__gte", "1700000000"), ("done", "0"), ("done", "yes")]
)
async def test_a_filter_value_of_another_type_than_its_schema_is_a_400(
    client: httpx.AsyncClient, parameter: str, value: str
) -> None:
    """``?created_at=0.5`` was read as 1970-01-01T00:00:00.5Z (schemathesis: a number accepted for a date-time)."""
    response = await client.get("/events", params={parameter: value})
    assert response.status_code == 400, response.text
    assert response.json()["parameter"] == parameter
    for accepted in ("true", "False"):
        assert (await client.get("/events", params={"done": accepted})).status_code == 200
    assert (await client.get("/events", params={"when__gte": "2026-01-01"})).status_code == 200
