"""No hidden lazy loads: reading a relation or column that a query did not load raises a fastmango error.

Relationships declared through :func:`fastmango.db.Relationship` (or on a :class:`~fastmango.db.Model`)
use the ``lazy="fastmango"`` strategy registered here: SQLAlchemy's raise loader with an error that names
``select_related`` / ``prefetch_related`` instead of an async ``MissingGreenlet``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import relationships, strategies
from sqlalchemy.orm.base import PassiveFlag

from fastmango.db.errors import FieldNotLoaded, RelationNotLoaded

LAZY = "fastmango"
_LazyLoader: Any = getattr(strategies, "_LazyLoader", None) or strategies.LazyLoader  # type: ignore[attr-defined]
_DeferredColumnLoader: Any = (
    getattr(strategies, "_DeferredColumnLoader", None) or strategies.DeferredColumnLoader  # type: ignore[attr-defined]
)


@relationships.RelationshipProperty.strategy_for(lazy=LAZY)
class RaiseLoader(_LazyLoader):  # type: ignore[misc]
    """SQLAlchemy's ``lazy="raise"`` loader, raising :class:`RelationNotLoaded`."""

    def __init__(self, parent: Any, strategy_key: Any) -> None:
        super().__init__(parent, strategy_key)
        self._raise_always = True

    def _invoke_raise_load(self, state: Any, passive: Any, lazy: Any) -> None:
        model = state.class_.__name__
        key = self.key
        raise RelationNotLoaded(
            f"{model}.{key} was not loaded by the query; load it with "
            f".select_related({key!r}) (to-one) or .prefetch_related({key!r}) (any relation)"
        )


_original_deferred_load = _DeferredColumnLoader._load_for_state


def _deferred_load(self: Any, state: Any, passive: Any) -> Any:
    # SQLAlchemy would raise DetachedInstanceError (our instances are detached once their query ends) or
    # try hidden I/O; a fastmango model names the fix instead.
    if getattr(state.class_, "__fastmango_model__", False) and state.key and passive & PassiveFlag.SQL_OK:
        raise FieldNotLoaded(
            f"{state.class_.__name__}.{self.key} was not loaded because the query used only(); "
            f"add {self.key!r} to only(...) or drop only()"
        )
    return _original_deferred_load(self, state, passive)


_DeferredColumnLoader._load_for_state = _deferred_load
