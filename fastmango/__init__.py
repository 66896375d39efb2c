"""fastmango: Django's productivity on FastAPI and SQLModel, async all the way, AI-native.

The names here are the everyday API; each layer's package (``fastmango.db``, ``fastmango.auth``...) has the rest.
"""

import os as _os

# Logfire's Pydantic plugin costs ~0.5 s on the first model build; load it only when Logfire is wanted.
if "PYDANTIC_DISABLE_PLUGINS" not in _os.environ and _os.environ.get("FASTMANGO_LOGFIRE", "").lower() not in {
    "1",
    "true",
    "yes",
    "on",
}:
    _os.environ["PYDANTIC_DISABLE_PLUGINS"] = "logfire-plugin"

from fastmango.__about__ import __version__
from fastmango.ai import tool
from fastmango.core import FastMango, ImproperlyConfigured, ProblemError, Settings, setup
from fastmango.tasks import TaskContext, task

__all__ = [
    "FastMango",
    "ImproperlyConfigured",
    "ProblemError",
    "Settings",
    "TaskContext",
    "__version__",
    "setup",
    "task",
    "tool",
]
