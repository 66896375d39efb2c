from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from fastmango import FastMango, ImproperlyConfigured, ProblemError, Settings, __version__
from fastmango.core.plugins import BasePlugin
from fastmango.testing import app_client


def make_app(**kwargs: Any) -> FastMango:
    return FastMango(settings=Settings(database_url="sqlite:///:memory:"), configure_logging=False, **kwargs)


async def test_health_answers_with_the_version() -> None:
    async with app_client(make_app()) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


async def test_docs_and_openapi_are_served() -> None:
    async with app_client(make_app()) as client:
        docs = await client.get("/docs")
        schema = await client.get("/openapi.json")
    assert docs.status_code == 200
    assert schema.json()["paths"]["/health"]["get"]["operationId"] == "health"


async def test_every_response_carries_a_request_id() -> None:
    async with app_client(make_app()) as client:
        first = await client.get("/health")
        second = await client.get("/health")
    assert len(first.headers["x-request-id"]) == 32
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_well_formed_incoming_request_id_is_kept_and_a_bad_one_replaced() -> None:
    async with app_client(make_app()) as client:
        kept = await client.get("/health", headers={"X-Request-ID": "proxy-abc.123"})
        replaced = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert kept.headers["x-request-id"] == "proxy-abc.123"
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"


class Item(BaseModel):
    name: str
    price: float


def problem_app(debug: bool = False) -> FastMango:
    app = FastMango(settings=Settings(database_url="sqlite:///:memory:", debug=debug), configure_logging=False)

    @app.post("/items")
    async def create(item: Item) -> Item:
        return item

    @app.get("/teapot")
    async def teapot() -> None:
        raise ProblemError(418, "No coffee here.", title="I'm a teapot", headers={"Retry-After": "5"}, hint="tea")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("database password is hunter2")

    return app


async def test_validation_errors_are_problem_details_with_field_paths() -> None:
    async with app_client(problem_app()) as client:
        response = await client.post("/items", json={"name": "x", "price": "cheap"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422
    assert body["instance"] == "/items"
    assert [error["field"] for error in body["errors"]] == ["price"]
    assert "price" in body["detail"]


async def test_not_found_is_a_problem_document() -> None:
    async with app_client(problem_app()) as client:
        response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Not Found"


async def test_problem_error_renders_status_title_headers_and_extensions() -> None:
    async with app_client(problem_app()) as client:
        response = await client.get("/teapot")
    assert response.status_code == 418
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["title"] == "I'm a teapot"
    assert body["detail"] == "No coffee here."
    assert body["hint"] == "tea"


async def test_unhandled_error_is_500_with_request_id_and_no_internals() -> None:
    app = problem_app(debug=False)
    async with app_client(app) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    assert "hunter2" not in response.text
    assert "traceback" not in body


async def test_unhandled_error_shows_traceback_in_debug() -> None:
    app = problem_app(debug=True)
    async with app_client(app) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert "RuntimeError" in response.json()["detail"]
    assert any("RuntimeError" in line for line in response.json()["traceback"])


class Recorder(BasePlugin):
    def __init__(self, name: str, events: list[str]) -> None:
        self.name = name
        self.events = events

    def install(self, app: FastMango) -> None:
        self.events.append(f"install {self.name}")

    def configure(self, app: FastMango) -> None:
        self.events.append(f"configure {self.name}")

    async def startup(self, app: FastMango) -> None:
        self.events.append(f"startup {self.name}")

    async def shutdown(self, app: FastMango) -> None:
        self.events.append(f"shutdown {self.name}")


async def test_plugins_start_in_order_and_stop_in_reverse_around_the_user_lifespan() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("user start")
        yield
        events.append("user stop")

    app = make_app(plugins=[Recorder("a", events), Recorder("b", events)], lifespan=lifespan)
    async with app_client(app) as client:
        await client.get("/health")
    assert events == [
        "install a",
        "install b",
        "configure a",
        "configure b",
        "startup a",
        "startup b",
        "user start",
        "user stop",
        "shutdown b",
        "shutdown a",
    ]


def test_plugins_are_configured_once_until_the_configuration_is_reset() -> None:
    events: list[str] = []
    app = make_app(plugins=[Recorder("a", events)])
    app.configure_plugins()
    app.configure_plugins()
    assert events == ["install a", "configure a"]
    app.reset_configuration()
    app.configure_plugins()
    assert events == ["install a", "configure a", "configure a"]


async def test_an_app_started_again_configures_its_plugins_again() -> None:
    events: list[str] = []
    app = make_app(plugins=[Recorder("a", events)])
    for _ in range(2):
        async with app_client(app):
            pass
    assert events.count("configure a") == 2


def test_plugins_named_by_path_must_import() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"nowhere\.plugin:Missing"):
        make_app(plugins=["nowhere.plugin:Missing"])


def test_prod_app_refuses_default_secret_key() -> None:
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        FastMango(settings=Settings(env="prod"), configure_logging=False)


async def test_app_with_unreachable_database_fails_to_start_naming_it() -> None:
    app = FastMango(
        settings=Settings(database_url="postgresql://nobody:secretpw@127.0.0.1:1/nope"), configure_logging=False
    )
    with pytest.raises(ImproperlyConfigured, match="cannot connect to the database") as info:
        async with app_client(app):
            pass
    assert "secretpw" not in str(info.value)
