"""Wires the AI layer into a FastMango app: the settings agents resolve model aliases with, checked at start.

Nothing here imports Pydantic AI: a basic app starts without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastmango.ai.agents import state
from fastmango.ai.llm import check_models
from fastmango.core.plugins import BasePlugin

if TYPE_CHECKING:
    from fastmango.core.app import FastMango


class AIPlugin(BasePlugin):
    """Checks ``ai_models`` at start-up and makes the app's settings the agents' settings."""

    name = "ai"

    def install(self, app: FastMango) -> None:
        check_models(app.settings)

    def configure(self, app: FastMango) -> None:
        state.settings = app.settings
        state.app = app
