"""Core: settings, the app factory, plugins, errors (RFC 9457), logging and project discovery."""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from fastmango.core.errors import (
    FastMangoError,
    ImproperlyConfigured,
    MissingDependency,
    ProblemError,
    ProjectNotFound,
)
from fastmango.core.lazy import lazy_attributes as _lazy_attributes
from fastmango.core.logging import configure_logging, request_id_var
from fastmango.core.plugins import BasePlugin, Plugin
from fastmango.core.project import Project, find_project
from fastmango.core.settings import Settings

if _TYPE_CHECKING:
    from fastmango.core.app import FastMango
    from fastmango.core.problems import ProblemResponse, problem
    from fastmango.core.setup import setup

# FastAPI loads with the app, on first use: settings and errors are enough for the CLI and a settings module.
_LAZY = {
    "FastMango": "fastmango.core.app",
    "ProblemResponse": "fastmango.core.problems",
    "problem": "fastmango.core.problems",
    "setup": "fastmango.core.setup",
}

__getattr__, __dir__ = _lazy_attributes(globals(), _LAZY)

__all__ = [
    "BasePlugin",
    "FastMango",
    "FastMangoError",
    "ImproperlyConfigured",
    "MissingDependency",
    "Plugin",
    "ProblemError",
    "ProblemResponse",
    "Project",
    "ProjectNotFound",
    "Settings",
    "configure_logging",
    "find_project",
    "problem",
    "request_id_var",
    "setup",
]
