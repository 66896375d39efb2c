"""How a row is named to a person: the label of an object in the history, the admin and autocomplete answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastmango.db.compiler import model_info

#: Columns that name a row, in order of preference, when its model says nothing else.
LABEL_FIELDS = ("name", "title", "username", "codename", "label", "email", "slug")
MAX_LABEL_LENGTH = 200


def label_field(model: type[Any]) -> str | None:
    """The column that names ``model``'s rows: ``__label_field__`` on the model, else the first of
    :data:`LABEL_FIELDS` the model has; None when it has none (rows are then named by primary key)."""
    declared = getattr(model, "__label_field__", None)
    if isinstance(declared, str):
        return declared
    columns = model_info(model).columns
    return next((name for name in LABEL_FIELDS if name in columns), None)


def object_label(model: type[Any], values: Mapping[str, Any] | Any) -> str:
    """A short label of one row (a mapping of its columns, or an instance): ``"Dune"``, else ``"Book 3"``."""
    get = values.get if isinstance(values, Mapping) else lambda name, default=None: getattr(values, name, default)
    field = label_field(model)
    found = get(field) if field is not None else None
    if found not in (None, ""):
        return str(found)[:MAX_LABEL_LENGTH]
    return f"{model.__name__} {get(model_info(model).pk_name)}"
