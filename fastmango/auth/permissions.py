"""Model permissions: ``<table>.view/add/change/delete`` for every table model, created after migrating."""

from __future__ import annotations

from typing import Any

from sqlmodel import SQLModel

from fastmango.auth.models import Permission

ACTIONS = ("view", "add", "change", "delete")


def permission_codenames(model: type[Any]) -> list[str]:
    """The four permissions of a table model: ``["book.view", "book.add", "book.change", "book.delete"]``."""
    return [f"{model.__tablename__}.{action}" for action in ACTIONS]


def table_models() -> list[type[Any]]:
    """Every imported table model, in table-name order."""
    models = {mapper.class_ for mapper in SQLModel._sa_registry.mappers}  # type: ignore[attr-defined]
    return sorted(models, key=lambda model: model.__tablename__)


async def sync_permissions(only_tables: set[str] | None = None) -> list[str]:
    """Create the missing permissions of every imported table model (of those in ``only_tables``, when
    given: the tables that exist); returns the codenames created."""
    existing = set(await Permission.objects.values_list("codename", flat=True))
    missing = []
    for model in table_models():
        if only_tables is not None and model.__tablename__ not in only_tables:
            continue
        for action, codename in zip(ACTIONS, permission_codenames(model), strict=True):
            if codename not in existing:
                missing.append(Permission(codename=codename, name=f"Can {action} {model.__tablename__}"))
    await Permission.objects.bulk_create(missing)
    return [permission.codename for permission in missing]
