"""Core: settings, the app factory, plugins, errors (RFC 9457), logging and project discovery."""

from fastmango.core.app import FastMango
from fastmango.core.errors import (
    FastMangoError,
    ImproperlyConfigured,
    MissingDependency,
    ProblemError,
    ProjectNotFound,
)
from fastmango.core.logging import configure_logging, request_id_var
from fastmango.core.plugins import BasePlugin, Plugin
from fastmango.core.problems import ProblemResponse, problem
from fastmango.core.project import Project, find_project
from fastmango.core.settings import Settings
from fastmango.core.setup import setup

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
