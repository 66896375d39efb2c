"""Find the user's project: ``[tool.fastmango]`` in the nearest ``pyproject.toml``, or ``FASTMANGO_APP``."""

from __future__ import annotations

import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from fastmango.core.errors import ImproperlyConfigured, ProjectNotFound
from fastmango.core.lazy import import_string
from fastmango.core.settings import describe_validation_error


@dataclass(frozen=True)
class Project:
    """Where a project lives and how to import its app."""

    root: Path
    app_path: str  # "package.module:attribute"
    config: dict[str, Any]

    @property
    def package(self) -> str:
        """The top-level package of the project (``mysite`` for ``mysite.app:app``)."""
        return self.app_path.split(":")[0].split(".")[0]

    @property
    def migrations_dir(self) -> Path:
        """The folder holding the project's migration revisions."""
        return self.root / str(self.config.get("migrations", "migrations"))


def find_project(start: Path | None = None) -> Project:
    """Locate the project from ``FASTMANGO_APP`` or the nearest ``pyproject.toml`` with ``[tool.fastmango]``.

    Raises:
        ProjectNotFound: neither is there; the message says how to make one.
    """
    start = (start or Path.cwd()).resolve()
    env_app = os.environ.get("FASTMANGO_APP")
    for folder in (start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if not pyproject.is_file():
            continue
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ImproperlyConfigured(f"{pyproject} is not valid TOML: {exc}") from exc
        config = data.get("tool", {}).get("fastmango")
        if config is None:
            continue
        app_path = env_app or config.get("app")
        if not app_path:
            raise ImproperlyConfigured(f'{pyproject} has [tool.fastmango] without app = "package.module:app"')
        return Project(root=folder, app_path=app_path, config=config)
    if env_app:
        return Project(root=start, app_path=env_app, config={})
    raise ProjectNotFound(
        f"no fastmango project here: no pyproject.toml with [tool.fastmango] in {start} or its parents, and "
        "FASTMANGO_APP is not set; run `fastmango init NAME` or set FASTMANGO_APP=package.module:app"
    )


def load_app(project: Project) -> Any:
    """Import the project's app object, with the project root on ``sys.path``.

    Raises:
        ImproperlyConfigured: the settings are invalid or the app path does not resolve.
    """
    root = str(project.root)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        return import_string(project.app_path)
    except ValidationError as exc:
        raise ImproperlyConfigured(describe_validation_error(exc)) from exc
    except ModuleNotFoundError as exc:
        if exc.name and project.app_path.startswith(exc.name):
            raise ImproperlyConfigured(
                f"cannot import the app {project.app_path!r}: no module named {exc.name!r} in {project.root}"
            ) from exc
        raise
    except ImportError as exc:
        raise ImproperlyConfigured(f"cannot import the app {project.app_path!r}: {exc}") from exc


def import_project_module(package: str, name: str) -> ModuleType | None:
    """Import ``<package>.<name>`` (``mysite.models``, ``mysite.tasks``) if the project has it; None if not.

    Importing runs the module's declarations (tables, ``@task``, ``@tool``), which register themselves.

    Raises:
        ImproperlyConfigured: the module exists but an import inside it fails; the message names it.
    """
    import importlib.util

    module = f"{package}.{name}"
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        return None
    if spec is None:
        return None
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImproperlyConfigured(f"cannot import {module!r}: {exc}") from exc
