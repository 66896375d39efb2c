"""Framework migrations: the tables fastmango's own layers need ship as Alembic branches inside fastmango.

Like Django's contrib apps, each layer with tables (auth, the AI usage ledger...) has a ``migrations/`` package
of its own, whose first revision carries the branch label ``fastmango_<layer>``. A plugin names that package in
its ``migrations`` attribute; ``fastmango migrate`` applies the branches of the app's plugins beside the
project's revisions, so a new project gets its ``auth_user`` table with no ``makemigrations``. The project's
first revision is based on the framework heads (it merges them), and autogenerate leaves framework tables out
of the project's revisions.

A project made before framework migrations existed holds these tables in its own first revision. Such a
branch is *stamped* instead of run: marked applied once its tables exist in the database.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData


@dataclass(frozen=True)
class FrameworkBranch:
    """One layer's migrations.

    Attributes:
        label: The Alembic branch label of its first revision (``fastmango_auth``).
        package: The layer's package (``fastmango.auth``); tables of models defined under it belong to the branch.
        directory: The folder of its revision files.
    """

    label: str
    package: str
    directory: Path

    @classmethod
    def from_package(cls, migrations_package: str) -> FrameworkBranch:
        """The branch whose revisions live in ``migrations_package`` (``fastmango.auth.migrations``).

        Raises:
            ModuleNotFoundError: no such package.
        """
        spec = importlib.util.find_spec(migrations_package)
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError(f"no migrations package {migrations_package!r}", name=migrations_package)
        layer = migrations_package.removesuffix(".migrations")
        label = "fastmango_" + layer.rsplit(".", 1)[-1]
        return cls(label=label, package=layer, directory=Path(next(iter(spec.submodule_search_locations))))

    def tables(self, metadata: MetaData) -> set[str]:
        """The tables of ``metadata`` whose model classes are defined in this layer."""
        return {name for name, module in table_modules(metadata).items() if _within(module, self.package)}


def plugin_branches(plugins: Iterable[Any]) -> list[FrameworkBranch]:
    """The framework branches of an app's plugins (those with a ``migrations`` package), in plugin order."""
    return [
        FrameworkBranch.from_package(package)
        for plugin in plugins
        if (package := getattr(plugin, "migrations", None)) is not None
    ]


def table_modules(metadata: MetaData) -> dict[str, str]:
    """Each table of ``metadata`` that a model class maps, with the module declaring that class (by table name)."""
    from sqlmodel.main import default_registry

    found: dict[str, str] = {}
    for mapper in default_registry.mappers:
        table: Any = mapper.local_table
        if table.name in metadata.tables and table.name not in found:
            found[table.name] = mapper.class_.__module__
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")
