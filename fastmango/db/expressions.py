"""Query expressions: ``Q`` (combinable conditions), ``F`` (column references) and aggregates."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from typing import Any


class Q:
    """Keyword lookups combined with ``&``, ``|`` and ``~``: ``Q(title__icontains="x") | Q(pages__gt=300)``."""

    AND = "AND"
    OR = "OR"

    def __init__(self, *children: Q, **lookups: Any) -> None:
        # An iterator is read once, here: a plan reads a lookup's value again on every run.
        items = [(key, list(value) if isinstance(value, Iterator) else value) for key, value in sorted(lookups.items())]
        self.children: list[Q | tuple[str, Any]] = [*children, *items]
        self.connector = Q.AND
        self.negated = False

    def _combine(self, other: Q, connector: str) -> Q:
        if not isinstance(other, Q):
            return NotImplemented
        combined = Q()
        combined.connector = connector
        combined.children = [self, other]
        return combined

    def __and__(self, other: Q) -> Q:
        return self._combine(other, Q.AND)

    def __or__(self, other: Q) -> Q:
        return self._combine(other, Q.OR)

    def __invert__(self) -> Q:
        negated = Q()
        negated.children = [self]
        negated.negated = True
        return negated

    def __repr__(self) -> str:
        inner = f" {self.connector} ".join(repr(child) for child in self.children)
        return f"{'NOT ' if self.negated else ''}({inner})"


class Combinable:
    """Arithmetic on expressions: ``F("price") * 2``, ``F("a") + F("b")``."""

    fastmango_expression = True  # a filter value that is SQL, never a bound parameter (fastmango.db.lookups)

    def _op(self, op: Callable[[Any, Any], Any], other: Any, reverse: bool = False) -> CombinedExpression:
        return CombinedExpression(other, op, self) if reverse else CombinedExpression(self, op, other)

    def __add__(self, other: Any) -> CombinedExpression:
        return self._op(operator.add, other)

    def __radd__(self, other: Any) -> CombinedExpression:
        return self._op(operator.add, other, reverse=True)

    def __sub__(self, other: Any) -> CombinedExpression:
        return self._op(operator.sub, other)

    def __rsub__(self, other: Any) -> CombinedExpression:
        return self._op(operator.sub, other, reverse=True)

    def __mul__(self, other: Any) -> CombinedExpression:
        return self._op(operator.mul, other)

    def __rmul__(self, other: Any) -> CombinedExpression:
        return self._op(operator.mul, other, reverse=True)

    def __truediv__(self, other: Any) -> CombinedExpression:
        return self._op(operator.truediv, other)

    def __rtruediv__(self, other: Any) -> CombinedExpression:
        return self._op(operator.truediv, other, reverse=True)

    def __neg__(self) -> CombinedExpression:
        return CombinedExpression(0, operator.sub, self)


class F(Combinable):
    """A reference to a field of the queried model (``F("price")``, ``F("author__name")``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"F({self.name!r})"


class CombinedExpression(Combinable):
    """Two operands joined by an arithmetic operator; either may be an expression or a value."""

    def __init__(self, left: Any, op: Callable[[Any, Any], Any], right: Any) -> None:
        self.left = left
        self.op = op
        self.right = right


class Aggregate(Combinable):
    """An aggregate over a field, or over a relation for ``Count``.

    Args:
        field: A field name, a path across relations (``"books__price"``), or ``"*"`` / ``"pk"`` for rows.
        distinct: Aggregate distinct values only.
        filter: A :class:`Q` restricting the rows aggregated (``Count("books", filter=Q(books__pages__gt=100))``).
    """

    function = ""

    def __init__(self, field: str, *, distinct: bool = False, filter: Q | None = None) -> None:
        self.field = field
        self.distinct = distinct
        self.filter = filter

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.field!r})"


class Count(Aggregate):
    """Number of rows (or related rows); 0 rather than null when there are none."""

    function = "count"


class Sum(Aggregate):
    """Sum of a field; null when there are no rows."""

    function = "sum"


class Avg(Aggregate):
    """Average of a field; null when there are no rows."""

    function = "avg"


class Min(Aggregate):
    """Smallest value of a field."""

    function = "min"


class Max(Aggregate):
    """Largest value of a field."""

    function = "max"
