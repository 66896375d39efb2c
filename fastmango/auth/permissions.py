"""Model permissions: ``<table>.view/add/change/delete`` for every table model, created after migrating.

:func:`codename` is the one place a model permission's name is built; every surface (CRUD, AI tools, the admin)
asks it rather than formatting ``f"{table}.{action}"`` itself.
"""

from __future__ import annotations

from typing import Any, Final

from sqlmodel import SQLModel

from fastmango.auth.models import Permission

ACTIONS = ("view", "add", "change", "delete")
#: Permissions of no table (codename: name), created by ``sync_permissions`` (see :func:`declare_permission`).
EXTRA_PERMISSIONS: dict[str, str] = {}

PERMISSION_OF: Final[dict[str, str]] = {
    "list": "view",
    "get": "view",
    "create": "add",
    "update": "change",
    "replace": "change",
    "delete": "delete",
}
"""The model permission each CRUD action (and model tool) needs."""


def codename(model_or_table: type[Any] | str, action: str) -> str:
    """The permission ``action`` needs on a model: ``codename(Book, "create") == "book.add"``.

    Args:
        model_or_table: A table model or its table name.
        action: A permission action (view, add, change, delete) or a CRUD action (list, get, create, update,
            replace, delete).

    Raises:
        ValueError: ``action`` is neither.
    """
    table = model_or_table if isinstance(model_or_table, str) else model_or_table.__tablename__
    permission = action if action in ACTIONS else PERMISSION_OF.get(action)
    if permission is None:
        known = ", ".join([*ACTIONS, *(a for a in PERMISSION_OF if a not in ACTIONS)])
        raise ValueError(f"unknown permission action {action!r}; actions: {known}")
    return f"{table}.{permission}"


def permission_codenames(model: type[Any]) -> list[str]:
    """The four permissions of a table model: ``["book.view", "book.add", "book.change", "book.delete"]``."""
    return [codename(model, action) for action in ACTIONS]


def table_models() -> list[type[Any]]:
    """Every imported table model, in table-name order."""
    models = {mapper.class_ for mapper in SQLModel._sa_registry.mappers}
    return sorted(models, key=lambda model: model.__tablename__)


def declare_permission(codename: str, name: str) -> None:
    """Declare a permission that belongs to no table (``declare_permission("debug.view", "Can view the debug
    panel")``): ``migrate`` creates it beside the tables' own, so it can be granted to users and groups."""
    EXTRA_PERMISSIONS[codename] = name


async def sync_permissions(only_tables: set[str] | None = None) -> list[str]:
    """Create the missing permissions of every imported table model (of those in ``only_tables``, when
    given: the tables that exist) and the declared ones (:func:`declare_permission`); returns the codenames
    created."""
    existing = set(await Permission.objects.values_list("codename", flat=True))
    missing = []
    for model in table_models():
        if only_tables is not None and model.__tablename__ not in only_tables:
            continue
        for action, name in zip(ACTIONS, permission_codenames(model), strict=True):
            if name not in existing:
                missing.append(Permission(codename=name, name=f"Can {action} {model.__tablename__}"))
    missing.extend(Permission(codename=c, name=n) for c, n in EXTRA_PERMISSIONS.items() if c not in existing)
    await Permission.objects.bulk_create(missing)
    return [permission.codename for permission in missing]
