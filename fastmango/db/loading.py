"""No hidden lazy loads: reading a relation or column that a query did not load raises a fastmango error.

Relationships declared through :func:`fastmango.db.Relationship` (or on a :class:`~fastmango.db.Model`)
use the ``lazy="fastmango"`` strategy registered here: SQLAlchemy's raise loader with an error that names
``select_related`` / ``prefetch_related`` instead of an async ``MissingGreenlet``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import relationships, strategies

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


_original_deferred_raise = _DeferredColumnLoader._invoke_raise_load


def _deferred_raise(self: Any, state: Any, passive: Any, lazy: Any) -> None:
    if getattr(state.class_, "__fastmango_model__", False):
        raise FieldNotLoaded(
            f"{state.class_.__name__}.{self.key} was not loaded because the query used only(); "
            f"add {self.key!r} to only(...) or drop only()"
        )
    _original_deferred_raise(self, state, passive, lazy)


_DeferredColumnLoader._invoke_raise_load = _deferred_raise
