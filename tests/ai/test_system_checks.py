"""fastmango.ai.system_checks: agents naming unknown tools or agents, aliases that cannot work (E301-E304)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends

from fastmango import FastMango, Settings
from fastmango.ai import agent, tool, use_agent
from fastmango.ai.system_checks import check_agent_tools, check_model_aliases
from fastmango.core.system_checks import CheckContext


def context(**settings: Any) -> CheckContext:
    app = FastMango(settings=Settings(database_url="sqlite:///:memory:", **settings), configure_logging=False)
    return CheckContext(app.settings, app)


def test_an_agent_naming_an_unknown_tool_is_an_error_with_the_close_match() -> None:
    @tool
    def search_books(query: str) -> list[str]:
        """Search."""
        return []

    agent("librarian", tools=["search_book"])
    found = check_agent_tools(context())
    assert [(f.id, f.obj) for f in found] == [("fastmango.E301", "librarian")]
    assert "did you mean 'search_books'?" in found[0].message


def test_a_route_using_an_undeclared_agent_is_an_error() -> None:
    checked = context()

    @checked.app.get("/ask")
    async def ask(bound: Any = Depends(use_agent("helper"))) -> None: ...

    found = check_agent_tools(checked)
    assert [(f.id, f.obj) for f in found] == [("fastmango.E302", "GET /ask")]


def test_agents_with_known_tools_and_declared_agents_are_fine() -> None:
    @tool
    def search_books(query: str) -> list[str]:
        """Search."""
        return []

    agent("librarian", tools=["search_*"])
    checked = context()

    @checked.app.get("/ask")
    async def ask(bound: Any = Depends(use_agent("librarian"))) -> None: ...

    assert check_agent_tools(checked) == []


def test_an_alias_without_its_key_or_without_a_provider_is_an_error() -> None:
    settings = Settings(database_url="sqlite:///:memory:", ai_models={"default": "test", "smart": "openai:gpt-4.1"})
    found = check_model_aliases(CheckContext(settings))
    assert [(f.id, f.obj) for f in found] == [("fastmango.E304", "smart")]
    assert found[0].hint.startswith("set OPENAI_API_KEY")
    settings = Settings(database_url="sqlite:///:memory:", ai_models={"fast": ["test", "gpt-4.1"]})
    assert [f.id for f in check_model_aliases(CheckContext(settings))] == ["fastmango.E303"]


def test_aliases_with_their_key_or_a_local_server_are_fine() -> None:
    models = {"default": "test", "smart": "openai:gpt-4.1"}
    with_key = Settings(database_url="sqlite:///:memory:", ai_models=models, ai_openai_api_key="sk-x")
    local = Settings(database_url="sqlite:///:memory:", ai_models=models, ai_openai_base_url="http://127.0.0.1:1/v1")
    assert check_model_aliases(CheckContext(with_key)) == []
    assert check_model_aliases(CheckContext(local)) == []
