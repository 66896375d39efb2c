"""Agents through Pydantic AI's real OpenAI provider, against a local OpenAI-compatible server."""

from __future__ import annotations

import httpx
import pytest
from fastapi import Depends

from fastmango import FastMango, ImproperlyConfigured
from fastmango.ai import agent, expose_model, use_agent
from fastmango.ai.agents import get_agent
from fastmango.auth import CurrentUser
from fastmango.testing import app_client
from tests.ai.conftest import PASSWORD, build_app, make_user, seed_books
from tests.ai.openai_server import ScriptedServer, serve, text, tool_call
from tests.auth.conftest import make_settings
from tests.db.models import Book


async def login(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    token = (await client.post("/auth/token", data={"username": username, "password": PASSWORD})).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def ask_route(app: FastMango) -> None:
    @app.post("/ask")
    async def ask(q: str, user: CurrentUser, support: object = Depends(use_agent("support"))) -> dict[str, str]:
        result = await support.run(q)  # type: ignore[attr-defined]
        return {"answer": result.output}


async def test_an_agent_calls_tools_over_the_openai_wire(tmp_path: object) -> None:
    server = ScriptedServer([tool_call("book_list", {"filters": {"title__icontains": "dune"}}), text("Dune it is.")])
    with serve(server) as base_url:
        app = build_app(
            f"sqlite:///{tmp_path}/wire.sqlite3",
            ai_models={"default": "openai:local-model"},
            ai_openai_base_url=base_url,
            ai_openai_api_key="sk-test-secret",
        )
        ask_route(app)
        expose_model(Book, filter_fields=["title"])
        agent("support", instructions="Answer about books.", tools=["book_*"])
        async with app_client(app) as client:
            from sqlmodel import SQLModel

            from fastmango.auth import sync_permissions

            async with app.state.database.engine.begin() as conn:
                await conn.run_sync(SQLModel.metadata.create_all)
            await sync_permissions()
            await seed_books()
            await make_user("reader", "book.view")
            response = await client.post("/ask?q=Which book?", headers=await login(client, "reader"))
    assert response.json() == {"answer": "Dune it is."}
    first, second = server.requests
    assert first["model"] == "local-model"
    assert {tool["function"]["name"] for tool in first["tools"]} == {"book_list", "book_get"}
    assert first["messages"][0] == {"role": "system", "content": "Answer about books."}
    tool_message = next(m for m in second["messages"] if m["role"] == "tool")
    assert '"title":"Dune"' in tool_message["content"].replace(" ", "")
    assert server.headers[0]["authorization"] == "Bearer sk-test-secret"
    openai_client = get_agent("support").build(app.settings).model.client
    assert openai_client.is_closed()  # stopping the app closed its connections to the provider


@pytest.mark.parametrize(
    ("status", "expected", "fragment", "slug"),
    [
        (429, 503, "rate limiting", "ai-provider-busy"),
        (401, 502, "refused the credentials", "ai-provider-error"),
        (500, 502, "failed", "ai-provider-error"),
    ],
)
async def test_provider_failures_are_problem_details_without_the_key(
    tmp_path: object, status: int, expected: int, fragment: str, slug: str
) -> None:
    server = ScriptedServer([(status, {"error": {"message": "nope sk-test-secret", "type": "x"}})])
    with serve(server) as base_url:
        app = build_app(
            f"sqlite:///{tmp_path}/err.sqlite3",
            ai_models={"default": "openai:local-model"},
            ai_openai_base_url=base_url,
            ai_openai_api_key="sk-test-secret",
        )
        ask_route(app)
        agent("support", tools=[], model="default", retries=0)
        async with app_client(app) as client:
            from sqlmodel import SQLModel

            async with app.state.database.engine.begin() as conn:
                await conn.run_sync(SQLModel.metadata.create_all)
            await make_user("u")
            response = await client.post("/ask?q=hi", headers=await login(client, "u"))
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"https://fastmango.dev/problems/{slug}"  # as docs/errors.md lists it
    assert fragment in response.json()["detail"]
    assert "openai" in response.json()["detail"]
    assert "sk-test-secret" not in response.text


def test_an_unknown_alias_or_a_missing_key_stops_the_app_at_start() -> None:
    from fastmango.ai.llm import resolve_model

    with pytest.raises(ImproperlyConfigured, match="OPENAI_API_KEY is not set"):
        build_app("sqlite:///:memory:", ai_models={"default": "openai:gpt-4.1"})
    with pytest.raises(ImproperlyConfigured, match="is not a model id"):
        build_app("sqlite:///:memory:", ai_models={"default": "gpt4"})
    with pytest.raises(ImproperlyConfigured, match="unknown AI model alias 'smart'"):
        resolve_model("smart", make_settings("sqlite:///:memory:"))
