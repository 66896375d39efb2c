"""Metrics fixtures: a FastMango app with a metrics token, a route with a template, and scrape helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fastmango import FastMango
from fastmango.auth import User
from fastmango.tasks.definition import _registry
from tests.auth.conftest import PASSWORD, make_settings, started

TOKEN = "scrape-secret-0123456789"


def build_app(url: str, **settings: Any) -> FastMango:
    app = FastMango(settings=make_settings(url, **({"metrics_token": TOKEN} | settings)), configure_logging=False)

    @app.get("/items/{pk}")
    async def item(pk: int) -> dict[str, int]:
        return {"pk": pk, "users": await User.objects.count()}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    return app


@pytest.fixture
def app(tmp_path: Any) -> FastMango:
    return build_app(f"sqlite:///{tmp_path}/metrics.sqlite3")


@pytest.fixture
async def client(app: FastMango) -> AsyncIterator[httpx.AsyncClient]:
    async with started(app) as client:
        yield client


@pytest.fixture
def restore_tasks() -> Iterator[None]:
    before = dict(_registry)
    yield
    _registry.clear()
    _registry.update(before)


async def scrape(client: httpx.AsyncClient, token: str = TOKEN) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """``/metrics`` parsed: sample name -> labels -> value."""
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def parse(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def labels(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


async def staff_headers(
    client: httpx.AsyncClient, name: str, *, staff: bool = True, grant: bool = True
) -> dict[str, str]:
    user = await User.objects.create_user(name, PASSWORD, is_staff=staff)
    if grant:
        await user.grant("monitoring.view")
    response = await client.post("/auth/token", data={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
