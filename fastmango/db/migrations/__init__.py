"""Migrations on Alembic: ``makemigrations`` autogenerates into the project's ``migrations/`` folder,
``migrate`` moves the database up or down.

The Alembic ``env.py`` lives in this package, not in the project, and finds the models by itself: the
project's app and its ``<package>.models`` module are imported (:func:`load_project`) and every table
class is in ``SQLModel.metadata``.
"""

from fastmango.db.migrations.discovery import LoadedProject, import_models, load_project, table_models
from fastmango.db.migrations.environment import Step
from fastmango.db.migrations.runner import MigrationError, Migrations, MigrationStatus, NewRevision

__all__ = [
    "LoadedProject",
    "MigrationError",
    "MigrationStatus",
    "Migrations",
    "NewRevision",
    "Step",
    "import_models",
    "load_project",
    "table_models",
]
