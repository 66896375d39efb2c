"""The history of writes: one ``LogEntry`` per row created, changed or deleted, whichever surface wrote it.

:class:`~fastmango.api.resource.ModelResource` records an entry for every ``create``, ``update`` and ``delete``
(and the admin for every row an action ran on) inside the transaction of the write itself, so a write and its
record commit or roll back together. An entry says who (the user whose rights applied), where from (``api``,
``admin``, ``ai`` or ``task``), what (the table, the primary key and a label of the row) and the changes, field
by field, as ``{"title": [old, new]}``; secret fields (write-only fields such as a password hash, and fields
named like passwords, secrets or tokens) are masked.

The table ships as the framework migration branch ``fastmango_api`` (:mod:`fastmango.api.plugin`).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic_core import to_jsonable_python
from sqlalchemy import Index, Text

from fastmango.api.caller import Caller
from fastmango.api.labels import object_label
from fastmango.api.schemas import is_write_only
from fastmango.db import Field, Model, UTCDateTime
from fastmango.db.compiler import model_info
from fastmango.db.expressions import F

HistoryAction = Literal["create", "update", "delete", "action"]
#: What a masked value reads as in the history.
MASK = "********"
_SECRET_NAME = re.compile(r"password|secret|token|api_?key", re.IGNORECASE)


def utcnow() -> datetime.datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.datetime.now(datetime.UTC)


class LogEntry(Model, table=True):
    """One write of one row.

    Attributes:
        at: When (UTC).
        actor_id / actor: The user whose rights the write used (id and username at the time); None: anonymous.
        action: ``create``, ``update``, ``delete`` or ``action`` (an admin action; ``via`` names it).
        table_name / object_pk / object_repr: The row: its model's table, its primary key (as text) and its label.
        changes: JSON ``{field: [old, new]}`` (secret fields masked; an action's entry: ``{}``).
        surface: ``api``, ``admin``, ``ai`` or ``task``.
        via: The tool, admin action or task that wrote, when there is one.
        on_behalf_of: For an AI write, the username of the user the agent acted for.
    """

    __tablename__ = "api_history"
    __table_args__ = (Index("ix_api_history_object", "table_name", "object_pk"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor_id: int | None = Field(default=None, index=True)
    actor: str | None = Field(default=None, max_length=150)
    action: str = Field(max_length=16)
    table_name: str = Field(max_length=100)
    object_pk: str = Field(max_length=64)
    object_repr: str = Field(default="", max_length=200)
    changes: str = Field(default="{}", sa_type=Text)
    surface: str = Field(default="api", max_length=8)
    via: str | None = Field(default=None, max_length=200)
    on_behalf_of: str | None = Field(default=None, max_length=150)

    def as_dict(self) -> dict[str, Any]:
        """The entry as the admin's history answers it."""
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": {"id": self.actor_id, "username": self.actor} if self.actor_id is not None else None,
            "action": self.action,
            "surface": self.surface,
            "via": self.via,
            "on_behalf_of": self.on_behalf_of,
            "object_repr": self.object_repr,
            "changes": json.loads(self.changes or "{}"),
        }


class History:
    """Records :class:`LogEntry` rows while ``enabled``: from the moment an app with
    :class:`~fastmango.api.plugin.APIPlugin` (every app, by default) is configured, as its ``api_history`` setting
    says, until it shuts down. Code run without an app (no plugin, maybe no table) records nothing."""

    def __init__(self) -> None:
        self.enabled = False

    async def record(
        self,
        caller: Caller,
        model: type[Any],
        action: HistoryAction,
        pk: Any,
        changes: Mapping[str, Any],
        *,
        label: str | None = None,
        via: str | None = None,
    ) -> LogEntry | None:
        """Write one entry (call it inside the write's transaction); None when the history is off.

        Args:
            caller: Who wrote, and through which surface.
            model: The model of the row.
            action: What was done.
            pk: The row's primary key.
            changes: ``{field: [old, new]}`` (secret fields are masked here).
            label: The row's label (:func:`~fastmango.api.labels.object_label` of the new values by default).
            via: What wrote, when the caller does not say (an admin action's name).
        """
        if not self.enabled:
            return None
        user = caller.user
        user_id = getattr(user, "id", None)
        username = getattr(user, "username", None)
        entry = LogEntry(
            actor_id=user_id,
            actor=username,
            action=action,
            table_name=model.__tablename__,
            object_pk=str(pk),
            object_repr=label if label is not None else object_label(model, _newest(model, changes)),
            changes=json.dumps(to_jsonable_python(masked(model, changes), fallback=str), sort_keys=True),
            surface=caller.surface,
            via=caller.via or via,
            on_behalf_of=username if caller.surface == "ai" else None,
        )
        await entry.save()
        return entry

    async def of(self, model: type[Any], pk: Any, *, limit: int = 100) -> list[LogEntry]:
        """The entries of one row, newest first."""
        query = LogEntry.objects.filter(table_name=model.__tablename__, object_pk=str(pk))
        return list(await query.order_by("-at", "-id")[:limit])


history = History()
"""The process-wide history that every resource writes to."""


def is_secret(model: type[Any], name: str) -> bool:
    """Whether ``model``'s field ``name`` is masked in the history: write-only, or named like a secret."""
    field = model.model_fields.get(name)
    return bool(_SECRET_NAME.search(name)) or (field is not None and is_write_only(field))


def masked(model: type[Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` with the values of secret fields replaced by :data:`MASK` (None stays None: set or unset)."""
    return {
        name: [None if value is None else MASK for value in pair] if is_secret(model, name) else pair
        for name, pair in changes.items()
    }


def created(model: type[Any], obj: Any) -> dict[str, list[Any]]:
    """The changes of a new row: each column but the primary key, from nothing to its value."""
    pk = model_info(model).pk_name
    return {name: [None, getattr(obj, name, None)] for name in _columns(model) if name != pk}


def deleted(model: type[Any], values: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The changes of a deleted row: each column but the primary key, from its value to nothing."""
    pk = model_info(model).pk_name
    return {name: [value, None] for name, value in values.items() if name != pk and value is not None}


def updated(before: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The fields ``values`` changed from ``before``, as ``[old, new]`` (an ``F()`` expression is shown as such)."""
    changes = {}
    for name, value in values.items():
        new = repr(value) if isinstance(value, F) else value
        if name not in before or before[name] != new:
            changes[name] = [before.get(name), new]
    return changes


def _columns(model: type[Any]) -> list[str]:
    return [name for name in model.model_fields if name in model_info(model).columns]


def _newest(model: type[Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The row as the changes leave it (the old value of a deleted row), enough to label it."""
    return {name: (pair[1] if pair[1] is not None else pair[0]) for name, pair in changes.items()}
