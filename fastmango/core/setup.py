"""``fastmango.setup()``: use a project's ORM, tasks and agents from a script or a notebook."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastmango.core.errors import ImproperlyConfigured
from fastmango.core.project import Project, find_project, load_app

if TYPE_CHECKING:
    from fastmango.core.app import FastMango

_app: FastMango | None = None


def setup(app: str | None = None) -> FastMango:
    """Load the project's app and configure what its settings name (database, task backend, AI models).

    Like ``django.setup()``: call it once at the top of a script; then ``await Book.objects.all()`` works.
    No connection is opened until the first query.

    Args:
        app: ``"package.module:app"``; by default the project is found as the CLI finds it
            (``FASTMANGO_APP``, or ``[tool.fastmango]`` in the nearest ``pyproject.toml``).

    Returns:
        The project's :class:`~fastmango.FastMango` app (its settings are ``app.settings``).
    """
    global _app
    project = find_project() if app is None else Project(root=Path.cwd(), app_path=app, config={})
    loaded = load_app(project)
    from fastmango.core.app import FastMango

    if not isinstance(loaded, FastMango):
        raise ImproperlyConfigured(f"{project.app_path!r} is a {type(loaded).__name__}, not a FastMango app")
    loaded.reset_configuration()  # a second setup() (after disconnecting) configures afresh
    loaded.configure_plugins()
    _app = loaded
    return loaded
