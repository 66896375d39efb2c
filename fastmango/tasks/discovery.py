"""Find a project's tasks: import ``<package>.tasks`` when that module exists (as migrations find models)."""

from __future__ import annotations

from types import ModuleType

from fastmango.core.project import import_project_module


def import_tasks(package: str) -> ModuleType | None:
    """Import ``<package>.tasks`` if the package has that module; None when it has not.

    Importing the module runs its ``@task`` decorators, which register the tasks.

    Raises:
        ImproperlyConfigured: ``tasks.py`` exists but an import inside it fails; the message names it.
    """
    return import_project_module(package, "tasks")


def import_project_tasks() -> ModuleType | None:
    """Import the tasks of the project found from the current folder (or ``FASTMANGO_APP``), if any."""
    from fastmango.core.errors import FastMangoError
    from fastmango.core.project import find_project

    try:
        project = find_project()
    except FastMangoError:
        return None
    return import_tasks(project.package)
