"""Find a project's models: import its app, then ``<package>.models`` when that module exists.

Importing a model class is what registers its table in ``SQLModel.metadata``, so autogenerate and the shell
call :func:`load_project` before they look at the tables. Users never list their models anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from fastmango.core.project import Project, import_project_module, load_app
from fastmango.core.settings import Settings


@dataclass(frozen=True)
class LoadedProject:
    """A project with its app and models imported.

    Attributes:
        project: Where the project lives.
        app: The project's app object (a :class:`~fastmango.FastMango` app in a generated project).
        settings: The app's settings (``app.settings``), or the default ``Settings()`` for a plain ASGI app.
        models: The ``<package>.models`` module, or None when the project has none.
    """

    project: Project
    app: Any
    settings: Settings
    models: ModuleType | None


def load_project(project: Project) -> LoadedProject:
    """Import the project's app and its ``models`` module, so that every table is in ``SQLModel.metadata``.

    Args:
        project: The project, as :func:`fastmango.core.project.find_project` returns it.

    Returns:
        The imported app, its settings and its models module.

    Raises:
        ImproperlyConfigured: the app cannot be imported or its settings are invalid.
    """
    app = load_app(project)
    settings = getattr(app, "settings", None)
    if not isinstance(settings, Settings):
        settings = Settings()
    return LoadedProject(project=project, app=app, settings=settings, models=import_models(project.package))


def import_models(package: str) -> ModuleType | None:
    """Import ``<package>.models`` if the package has that module; None when it has not.

    Raises:
        ImproperlyConfigured: ``models.py`` exists but an import inside it fails; the message names it.
    """
    return import_project_module(package, "models")


def table_models(module: ModuleType | None) -> dict[str, type]:
    """The table classes (``fastmango.db.Model`` or ``SQLModel, table=True``) a module defines or imports.

    Returns:
        A mapping of class name to class, in the module's order.
    """
    if module is None:
        return {}
    from sqlmodel import SQLModel

    found: dict[str, type] = {}
    for name, value in vars(module).items():
        if (
            isinstance(value, type)
            and issubclass(value, SQLModel)
            and value is not SQLModel
            and vars(value).get("__table__") is not None  # a table class itself, not a schema derived from one
            and not name.startswith("_")
        ):
            found[name] = value
    return found
