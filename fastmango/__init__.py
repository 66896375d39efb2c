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

from typing import TYPE_CHECKING as _TYPE_CHECKING

from fastmango.__about__ import __version__
from fastmango.core.errors import ImproperlyConfigured, ProblemError
from fastmango.core.lazy import lazy_attributes as _lazy_attributes
from fastmango.core.settings import Settings

if _TYPE_CHECKING:
    from fastmango.ai.functions import tool
    from fastmango.core.app import FastMango
    from fastmango.core.setup import setup
    from fastmango.tasks import TaskContext, task

# The app (FastAPI) and the decorators of higher layers load on first use, so that `import fastmango` (and a
# project's settings module) stays at the cost of settings: the dev reloader reads them without the app.
_LAZY = {
    "FastMango": "fastmango.core.app",
    "setup": "fastmango.core.setup",
    "tool": "fastmango.ai.functions",
    "task": "fastmango.tasks",
    "TaskContext": "fastmango.tasks",
}

__getattr__, __dir__ = _lazy_attributes(globals(), _LAZY)

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
