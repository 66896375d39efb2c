"""Agents over HTTP: the server-sent events of a streamed run."""

from __future__ import annotations

import datetime
import json

import httpx
from pydantic_ai.models.test import TestModel

from fastmango import FastMango
from fastmango.ai import agent


async def test_streamed_output_writes_datetimes_as_every_other_response(
    client: httpx.AsyncClient, app: FastMango
) -> None:
    at = datetime.datetime(2025, 1, 31, 9, 30, tzinfo=datetime.UTC)
    clock = agent(
        "clock", output_type=dict[str, datetime.datetime], model=TestModel(custom_output_args={"at": at.isoformat()})
    )

    @app.get("/clock")
    async def ask() -> object:
        return clock.bind(app=app).stream("when?")

    response = await client.get("/clock")
    events = [line.removeprefix("data: ") for line in response.text.splitlines() if line.startswith("data: ")]
    assert json.loads(events[-1]) == {"at": "2025-01-31T09:30:00Z"}
