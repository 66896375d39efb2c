"""Query plans: a QuerySet's state and result shape reduced to a hashable *shape*, and the statement built once per
shape.

Every value of a query (a filter's value, a limit, an offset) is a *slot*: the shape records only its kind, and the
plan binds it as a parameter, so ``filter(id=1)`` and ``filter(id=2)`` share one plan. Values that change the SQL
stay in the shape: ``None`` (``IS NULL``), ``isnull``'s bool, an empty ``in`` (matches nothing), expressions
(``F("price") * 2``); ``in`` lists are one expanding parameter. :class:`PlanCache` is a bounded LRU of plans keyed by
``(dialect, shape)``; computing a shape walks the state once and costs a small fraction of building and compiling
the statement.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastmango.db.compiler import Compiler, Slots, bind_params, model_info, to_one_steps
from fastmango.db.expressions import Aggregate, CombinedExpression, F, Q
from fastmango.db.instances import rows_builder
from fastmango.db.lookups import binds_value, lookup_name

if TYPE_CHECKING:
    from fastmango.db.query import QueryState

# Result shapes: how rows come back. Row shapes also name their fields.
INSTANCES, DICTS, TUPLES, FLAT = "instances", "dicts", "tuples", "flat"
COUNT, EXISTS, AGGREGATE = "count", "exists", "aggregate"
ROW_SHAPES = frozenset({DICTS, TUPLES, FLAT})
DEFAULT_CACHE_SIZE = 512


@dataclass(frozen=True)
class Result:
    """What a query returns: ``kind`` (a shape above) and, for rows, the fields (all columns when empty)."""

    kind: str = INSTANCES
    fields: tuple[str, ...] = ()


@dataclass
class Plan:
    """A statement built once for a shape, with how each run's values bind to its parameters."""

    statement: Any
    params: tuple[tuple[str, int, Callable[[Any], Any] | None], ...]  # (bind name, value index, transform)
    result: Result
    annotations: tuple[str, ...]
    columns: tuple[str, ...] = ()  # the names of a row shape's columns
    key: Any = None
    driver: Any = field(default=None)  # the direct asyncpg form, computed on its first run (fastmango.db.execute)
    # Instances outside a transaction: the same query as rows, and the function building detached instances.
    rows: Plan | None = None
    build_instances: Callable[[list[Any]], list[Any]] | None = None

    def bind(self, values: list[Any]) -> dict[str, Any]:
        """The parameters of one run."""
        return bind_params(self.params, values)


class PlanCache:
    """A bounded LRU of plans. ``size=0`` turns caching off (every query plans afresh)."""

    def __init__(self, size: int = DEFAULT_CACHE_SIZE) -> None:
        self.size = size
        self.plans: OrderedDict[Any, Plan] = OrderedDict()
        self.hits = self.misses = self.evictions = 0

    def get(self, key: Any) -> Plan | None:
        plan = self.plans.get(key)
        if plan is None:
            self.misses += 1
            return None
        self.hits += 1
        self.plans.move_to_end(key)
        return plan

    def put(self, key: Any, plan: Plan) -> None:
        if self.size <= 0:
            return
        self.plans[key] = plan
        if len(self.plans) > self.size:
            self.plans.popitem(last=False)
            self.evictions += 1

    def resize(self, size: int) -> None:
        """Keep at most ``size`` plans from now on (the least recently used go first)."""
        self.size = size
        while len(self.plans) > max(size, 0):
            self.plans.popitem(last=False)
            self.evictions += 1

    def clear(self) -> None:
        self.plans.clear()
        self.hits = self.misses = self.evictions = 0

    def stats(self) -> dict[str, Any]:
        """``hits``, ``misses``, ``evictions``, ``size`` (plans held), ``max_size`` and ``hit_rate``."""
        looked = self.hits + self.misses
        return {
            "hits": self.hits,
            "misses": self.misses,
            "evictions": self.evictions,
            "size": len(self.plans),
            "max_size": self.size,
            "hit_rate": self.hits / looked if looked else 0.0,
        }


cache = PlanCache()


def shape_of(
    state: QueryState, result: Result, aggregates: dict[str, Aggregate] | None = None
) -> tuple[Any, list[Any]]:
    """The shape of a query and its values, in the order the compiler meets them (see :class:`Slots`)."""
    values: list[Any] = []
    annotations = tuple((name, _expression(value, values)) for name, value in state.annotations.items())
    aggregated = tuple((name, _expression(value, values)) for name, value in (aggregates or {}).items())
    where = tuple(_q(q, values) for q in state.where)
    kind = result.kind
    sliced = kind in (INSTANCES, DICTS, TUPLES, FLAT) or (
        kind == COUNT and (state.distinct or state.limit is not None or state.offset)
    )
    if (sliced or kind == EXISTS) and state.offset:
        values.append(state.offset)
    if sliced and state.limit is not None:
        values.append(state.limit)
    key = (
        state.model,
        result,
        aggregated,
        annotations,
        where,
        state.order_by,
        state.select_related if kind == INSTANCES else (),
        state.prefetch_related if kind == INSTANCES else (),
        state.only if kind == INSTANCES else (),
        state.distinct,
        bool(state.offset),
        state.limit is not None,
    )
    return key, values


def build(state: QueryState, result: Result, values: list[Any], aggregates: dict[str, Aggregate] | None = None) -> Plan:
    """The plan of a query whose values are ``values`` (from :func:`shape_of`)."""
    slots = Slots(values)
    compiler = Compiler(state, slots)
    kind = result.kind
    if kind == INSTANCES:
        statement = compiler.select_instances()
        if not state.prefetch_related and not state.only:
            plan = Plan(statement, tuple(slots.params), result, tuple(compiler.annotations))
            _check_all_taken(slots, values)
            plan.rows, plan.build_instances = _instances_from_rows(state, values)
            return plan
    elif kind in ROW_SHAPES:
        statement = compiler.select_values(result.fields)
    elif kind == COUNT:
        statement = compiler.count()
    elif kind == EXISTS:
        statement = compiler.exists()
    else:
        statement = compiler.aggregate(aggregates or {})
    _check_all_taken(slots, values)
    columns: tuple[str, ...] = ()
    if kind in ROW_SHAPES:
        columns = result.fields or (*compiler.info.mapper.column_attrs.keys(), *compiler.annotations)
    return Plan(statement, tuple(slots.params), result, tuple(compiler.annotations), columns)


def _check_all_taken(slots: Slots, values: list[Any]) -> None:
    if slots.taken != len(values):
        raise RuntimeError("fastmango internal error: a query's values were not all planned")


def _instances_from_rows(state: QueryState, values: list[Any]) -> tuple[Plan, Callable[[list[Any]], list[Any]]]:
    """The instances query as plain rows (the model's columns, each ``select_related`` row's, the annotations) and
    a function building detached instances from them, as a load in a short session would, without the session."""
    root = model_info(state.model)
    paths = list(root.mapper.column_attrs.keys())
    relations: list[tuple[str, str, str, Any]] = []  # (path, parent path, relation name, info)
    seen: set[str] = set()
    for path in state.select_related:
        for part, prefix, info in to_one_steps(state.model, path):
            if prefix not in seen:
                seen.add(prefix)
                relations.append((prefix, prefix.rpartition("__")[0], part, info))
                paths += [f"{prefix}__{attr.key}" for attr in info.mapper.column_attrs]
    paths += list(state.annotations)
    row_plan = build(state, Result(TUPLES, tuple(paths)), values)
    position = {path: index for index, path in enumerate(paths)}
    annotations = [(name, position[name]) for name in state.annotations]
    # Each related path's owner: its index among the row's objects (0: the root, then the relations in order).
    order = [""] + [path for path, _, _, _ in relations]
    steps = [(order.index(parent), name, info, path + "__") for path, parent, name, info in relations]
    build_instances = rows_builder(root, steps, position, annotations)
    return row_plan, build_instances


def _q(q: Q, values: list[Any]) -> Any:
    children: list[Any] = []
    for child in q.children:
        if isinstance(child, Q):
            children.append(_q(child, values))
            continue
        key, value = child
        if binds_value(key, value):
            values.append(value)
            children.append((key, _kind(key, value)))
        else:
            children.append((key, "=", _constant(value, values)))
    return (q.connector, q.negated, tuple(children))


def _kind(key: str, value: Any) -> Any:
    """What of a bound value the SQL depends on: its type (a str for a text lookup, a model for a relation), and
    the number of a range's bounds."""
    if lookup_name(key) == "range" and hasattr(value, "__len__"):
        return (type(value), len(value))
    return type(value)


def _expression(value: Any, values: list[Any]) -> Any:
    if isinstance(value, Aggregate):
        condition = _q(value.filter, values) if value.filter is not None else None
        return ("aggregate", type(value), value.field, value.distinct, condition)
    return _constant(value, values)


def _constant(value: Any, values: list[Any]) -> Any:
    """A value that is part of the SQL, as part of the shape."""
    if isinstance(value, F):
        return ("F", value.name)
    if isinstance(value, CombinedExpression):
        return ("op", value.op, _constant(value.left, values), _constant(value.right, values))
    if isinstance(value, Aggregate):
        return ("aggregate", type(value), value.field, value.distinct, repr(value.filter))
    if isinstance(value, (list, tuple, set, frozenset)):
        return (type(value), tuple(_constant(item, values) for item in value))
    try:
        hash(value)
    except TypeError:
        return (type(value), repr(value))
    return (type(value), value)
