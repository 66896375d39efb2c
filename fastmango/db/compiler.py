"""Turns a QuerySet's state into SQLAlchemy statements.

Filters across relations become ``EXISTS`` subqueries (``has()`` / ``any()``), so they never duplicate rows
and compose with ``~Q``. Ordering, ``values()`` and ``select_related`` across relations use LEFT OUTER JOINs,
one per relation path, shared between them. Aggregates in ``annotate()`` are correlated scalar subqueries,
so they can be filtered and ordered on without GROUP BY.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, inspect, literal, or_, select, true
from sqlalchemy.orm import Mapper, aliased, contains_eager, load_only, selectinload
from sqlalchemy.orm.relationships import RelationshipProperty
from sqlalchemy.orm.strategy_options import _AbstractLoad
from sqlalchemy.orm.util import AliasedClass

from fastmango.db.errors import FieldError
from fastmango.db.expressions import Aggregate, CombinedExpression, F, Q
from fastmango.db.lookups import LOOKUPS, Bind, apply_lookup, binds_value

if TYPE_CHECKING:
    from fastmango.db.query import QueryState

_RELATION_LOOKUPS = {"exact", "in", "isnull"}


@dataclass(frozen=True)
class ModelInfo:
    """What a query needs to know about a mapped model."""

    model: type
    mapper: Mapper[Any]
    columns: frozenset[str]
    relations: dict[str, RelationshipProperty[Any]]
    pk_name: str

    def describe(self) -> str:
        return ", ".join(sorted({*self.columns, *self.relations, "pk"}))


@cache
def _model_info(model: type) -> ModelInfo:
    """Columns, relations and primary key of ``model`` (cached)."""
    mapper: Any = inspect(model, raiseerr=False)
    if not isinstance(mapper, Mapper):
        raise FieldError(f"{model.__name__} is not a table model; declare it with table=True")
    pk_column = mapper.primary_key[0]
    return ModelInfo(
        model=model,
        mapper=mapper,
        columns=frozenset(attr.key for attr in mapper.column_attrs),
        relations={rel.key: rel for rel in mapper.relationships},
        pk_name=mapper.get_property_by_column(pk_column).key,
    )


def model_info(model: type[Any]) -> ModelInfo:
    """Columns, relations and primary key of ``model`` (cached)."""
    return _model_info(model)  # type: ignore[arg-type]


def related_pk(value: Any) -> Any:
    """The primary key of a model instance, or the value itself."""
    if hasattr(value, "__mapper__"):
        return model_info(type(value)).mapper.primary_key_from_instance(value)[0]
    return value


class Slots:
    """The parameters of a statement being planned: each value of the query (a filter's value, a limit) becomes a
    bound parameter, and the plan records which value of the query feeds it, and how (``transform``).

    ``values`` are the query's values in the order the compiler meets them (:func:`fastmango.db.plans.shape_of`
    lists them in that order); each is checked to be the very object the compiler takes.
    """

    def __init__(self, values: list[Any]) -> None:
        self.values = values
        self.taken = 0
        self.params: list[tuple[str, int, Any]] = []  # (bind name, index into values, transform or None)

    def take(self, value: Any) -> int:
        index = self.taken
        if index >= len(self.values) or self.values[index] is not value:
            raise RuntimeError("fastmango internal error: a query's values were not met in their planned order")
        self.taken += 1
        return index

    def bind(self, index: int, label: str, transform: Any = None, *, expanding: bool = False) -> Any:
        name = f"fm{len(self.params)}_{label}"
        self.params.append((name, index, transform))
        return bindparam(name, expanding=expanding)


def bind_params(params: Sequence[tuple[str, int, Any]], values: list[Any]) -> dict[str, Any]:
    """The parameters of one run: each (bind name, value index, transform) of a statement applied to ``values``."""
    return {
        name: (transform(values[index]) if transform is not None else values[index])
        for name, index, transform in params
    }


def _then(first: Any, second: Any) -> Any:
    if first is None:
        return second
    if second is None:
        return first
    return lambda value: second(first(value))


class Compiler:
    """Builds the statements of one QuerySet evaluation, with its values as bound parameters (see :class:`Slots`)."""

    def __init__(self, state: QueryState, slots: Slots | None = None) -> None:
        self.state = state
        self.slots = slots if slots is not None else Slots([])
        self.model = state.model
        self.info = model_info(state.model)
        self.aliases: dict[str, Any] = {}
        self.joins: list[Any] = []
        self.annotations: dict[str, ColumnElement[Any]] = {}
        for name, expression in state.annotations.items():
            self.annotations[name] = self.annotation(expression)

    # -- paths -------------------------------------------------------------------------------------
    def column(self, path: str) -> ColumnElement[Any]:
        """A column (or annotation) of the root model, joining the relations the path crosses."""
        if path in self.annotations:
            return self.annotations[path]
        parts = path.split("__")
        entity: Any = self.model
        info = self.info
        for index, part in enumerate(parts[:-1]):
            if part not in info.relations:
                raise self.unknown(info, part, path)
            entity = self.join("__".join(parts[: index + 1]), entity, part)
            info = model_info(info.relations[part].mapper.class_)
        last = info.pk_name if parts[-1] == "pk" else parts[-1]
        if last in info.relations:
            rel = info.relations[last]
            if rel.direction.name == "MANYTOONE" and len(rel.local_columns) == 1:
                fk = next(iter(rel.local_columns))
                return getattr(entity, info.mapper.get_property_by_column(fk).key)  # type: ignore[no-any-return]
            raise FieldError(f"{path!r} is a relation; name one of its fields, like {path}__pk")
        if last not in info.columns:
            raise self.unknown(info, last, path)
        return getattr(entity, last)  # type: ignore[no-any-return]

    def join(self, path: str, parent: Any, relation: str) -> Any:
        """The alias joined (LEFT OUTER) for a relation path, created once per path."""
        if path not in self.aliases:
            alias, onclause = _joined_alias(self.model, path, parent, relation)
            self.aliases[path] = alias
            self.joins.append(onclause)
        return self.aliases[path]

    @staticmethod
    def unknown(info: ModelInfo, name: str, path: str) -> FieldError:
        return FieldError(f"{info.model.__name__} has no field {name!r} (in {path!r}); fields are: {info.describe()}")

    # -- values and expressions ------------------------------------------------------------------
    def value(self, value: Any) -> Any:
        """Resolve ``F`` and arithmetic to SQL; model instances to their primary key."""
        if isinstance(value, F):
            return self.column(value.name)
        if isinstance(value, CombinedExpression):
            return value.op(self.value(value.left), self.value(value.right))
        if isinstance(value, Aggregate):
            raise FieldError(f"{value!r} cannot be used here; annotate() it first and refer to the annotation")
        return related_pk(value)

    def binder(self, key: str, raw: Any, convert: Any = None) -> Bind:
        """The ``bind`` of a lookup's value (see :mod:`fastmango.db.lookups`): a parameter of the plan when the value
        is bound, else the value itself (an expression, or one that decides the SQL's form)."""
        if not binds_value(key, raw):
            value = convert(raw) if convert is not None else self.value(raw)

            def literal(transform: Any = None, *, expanding: bool = False) -> Any:
                return transform(value) if transform is not None else value

            return literal
        index = self.slots.take(raw)
        if convert is None and hasattr(raw, "__mapper__"):
            convert = related_pk
        label = key.replace("__", "_")

        def bind(transform: Any = None, *, expanding: bool = False) -> Any:
            return self.slots.bind(index, label, _then(convert, transform), expanding=expanding)

        return bind

    def slot(self, value: int, label: str) -> Any:
        """A limit or offset as a parameter of the plan."""
        return self.slots.bind(self.slots.take(value), label)

    def annotation(self, expression: Any) -> ColumnElement[Any]:
        if isinstance(expression, Aggregate):
            return self.relation_aggregate(expression)
        if isinstance(expression, (F, CombinedExpression)):
            return self.value(expression)  # type: ignore[no-any-return]
        return literal(expression)

    def relation_aggregate(self, aggregate: Aggregate) -> ColumnElement[Any]:
        """``Count("books")`` as a correlated subquery over the related rows of each row."""
        parts = aggregate.field.split("__")
        rel = self.info.relations.get(parts[0])
        if rel is None or not rel.uselist:
            raise FieldError(
                f"annotate({aggregate!r}) needs a to-many relation of {self.model.__name__} "
                f"(one of: {', '.join(n for n, r in self.info.relations.items() if r.uselist) or 'none'}); "
                "use aggregate() for totals over the rows themselves"
            )
        target = rel.mapper.class_
        target_info = model_info(target)
        rest = parts[1:]
        if len(rest) > 1:
            raise FieldError(f"{aggregate!r}: aggregates reach one relation deep, like books__price")
        name = target_info.pk_name if not rest or rest[0] == "pk" else rest[0]
        if name not in target_info.columns:
            raise self.unknown(target_info, name, aggregate.field)
        column: Any = getattr(target, name)
        if aggregate.distinct:
            column = column.distinct()
        expression = getattr(func, aggregate.function)(column)
        source = target.__table__
        if rel.secondary is not None:
            source = rel.secondary.join(source, rel.secondaryjoin)
        statement = select(expression).select_from(source).where(rel.primaryjoin)
        if aggregate.filter is not None:
            statement = statement.where(self.q(target, _strip_prefix(aggregate.filter, parts[0])))
        return statement.scalar_subquery()

    def plain_aggregate(self, aggregate: Aggregate) -> ColumnElement[Any]:
        """An aggregate over the rows of the query, for ``aggregate()``."""
        column: Any
        if aggregate.field in ("*", "pk") and aggregate.function == "count":
            column = getattr(self.model, self.info.pk_name)
        else:
            column = self.column(aggregate.field)
        if aggregate.distinct:
            column = column.distinct()
        expression = getattr(func, aggregate.function)(column)
        if aggregate.filter is not None:
            expression = expression.filter(self.q(self.model, aggregate.filter))
        if aggregate.function == "count":
            expression = func.coalesce(expression, 0)
        return expression  # type: ignore[no-any-return]

    # -- conditions --------------------------------------------------------------------------------
    def q(self, model: type, q: Q) -> ColumnElement[bool]:
        clauses = [
            self.q(model, child) if isinstance(child, Q) else self.lookup(model, child[0], child[1])
            for child in q.children
        ]
        if not clauses:
            combined: ColumnElement[bool] = true()
        elif len(clauses) == 1:
            combined = clauses[0]
        else:
            combined = and_(*clauses) if q.connector == Q.AND else or_(*clauses)
        # NOT (x = 1) is NULL when x is NULL and would drop the row; Django keeps it, and so does IS NOT TRUE.
        return combined.is_not(true()) if q.negated else combined

    def lookup(self, model: type, key: str, value: Any) -> ColumnElement[bool]:
        parts = key.split("__")
        info = model_info(model)
        first = info.pk_name if parts[0] == "pk" else parts[0]
        if model is self.model and first in self.annotations:
            return apply_lookup(self.annotations[first], parts[1:], self.value(value), key, self.binder(key, value))
        if first in info.columns:
            return apply_lookup(getattr(model, first), parts[1:], self.value(value), key, self.binder(key, value))
        if first not in info.relations:
            raise self.unknown(info, first, key)
        rel = info.relations[first]
        attr = getattr(model, first)
        target = rel.mapper.class_
        target_pk = getattr(target, model_info(target).pk_name)
        rest = parts[1:]
        if not rest or (len(rest) == 1 and rest[0] in _RELATION_LOOKUPS):
            lookup = rest[0] if rest else "exact"
            if lookup == "isnull":
                exists = attr.any() if rel.uselist else attr.has()
                return ~exists if value else exists  # type: ignore[no-any-return]
            if lookup == "exact" and value is None:
                return ~(attr.any() if rel.uselist else attr.has())  # type: ignore[no-any-return]
            if lookup == "in":
                inner = LOOKUPS[lookup](target_pk, _pks(value), self.binder(key, value, _pks))
            else:
                inner = LOOKUPS[lookup](target_pk, self.value(value), self.binder(key, value))
        else:
            inner = self.lookup(target, "__".join(rest), value)
        return attr.any(inner) if rel.uselist else attr.has(inner)  # type: ignore[no-any-return]

    def where(self) -> list[ColumnElement[bool]]:
        return [self.q(self.model, q) for q in self.state.where]

    # -- statements --------------------------------------------------------------------------------
    def order_by(self) -> list[Any]:
        clauses: list[Any] = []
        for item in self.state.order_by:
            descending = item.startswith("-")
            column = self.column(item.lstrip("-"))
            clauses.append(column.desc() if descending else column.asc())
        return clauses

    def finish(
        self,
        statement: Select[Any],
        *,
        ordered: bool = True,
        sliced: bool = True,
        where: list[ColumnElement[bool]] | None = None,
    ) -> Select[Any]:
        # Resolve conditions and ordering first: they may add joins. Conditions resolve once (each takes its values).
        if where is None:
            where = self.where()
        order = self.order_by() if ordered else []
        for onclause in self.joins:
            statement = statement.outerjoin(onclause)
        if where:
            statement = statement.where(*where)
        if order:
            statement = statement.order_by(*order)
        if self.state.distinct:
            statement = statement.distinct()
        if sliced:
            if self.state.offset:
                statement = statement.offset(self.slot(self.state.offset, "offset"))
            if self.state.limit is not None:
                statement = statement.limit(self.slot(self.state.limit, "limit"))
        return statement

    def select_instances(self) -> Select[Any]:
        """``SELECT`` of the model's rows with its annotations, loaders and related rows."""
        labelled = [expression.label(name) for name, expression in self.annotations.items()]
        statement = select(self.model, *labelled)
        options = self.loader_options()
        if options:
            statement = statement.options(*options)
        return self.finish(statement)

    def select_values(self, fields: tuple[str, ...]) -> Select[Any]:
        names = fields or (*self.info.mapper.column_attrs.keys(), *self.annotations)
        columns = [self.column(name).label(name) for name in names]
        return self.finish(select(*columns))

    def loader_options(self) -> list[_AbstractLoad]:
        options: list[_AbstractLoad] = []
        eager: dict[str, _AbstractLoad] = {}
        for path in self.state.select_related:
            parent: Any = self.model
            loader: Any = None
            for part, prefix, _ in to_one_steps(self.model, path):
                alias = self.join(prefix, parent, part)
                attr = getattr(parent, part).of_type(alias)
                loader = contains_eager(attr) if loader is None else loader.contains_eager(attr)
                eager[prefix] = loader
                parent = alias
            options.append(loader)
        for path in self.state.prefetch_related:
            parent = self.model
            loader = None
            parts = path.split("__")
            for index, part in enumerate(parts):
                prefix = "__".join(parts[: index + 1])
                info = model_info(_class_of(parent))
                if part not in info.relations:
                    raise self.unknown(info, part, path)
                if prefix in eager and loader is None:
                    loader = eager[prefix]
                    parent = self.aliases[prefix]
                    continue
                attr = getattr(parent, part)
                loader = selectinload(attr) if loader is None else loader.selectinload(attr)
                parent = info.relations[part].mapper.class_
            options.append(loader)
        if self.state.only:
            for name in self.state.only:
                if name not in self.info.columns and name != "pk":
                    raise self.unknown(self.info, name, name)
            columns = [getattr(self.model, self.info.pk_name if n == "pk" else n) for n in self.state.only]
            options.append(load_only(*columns, raiseload=True))
        return options

    def count(self) -> Select[Any]:
        if self.state.distinct or self.state.limit is not None or self.state.offset:
            pk = getattr(self.model, self.info.pk_name)
            inner = self.finish(select(pk), ordered=False).subquery()
            return select(func.count()).select_from(inner)
        return self.finish(select(func.count()).select_from(self.model), ordered=False, sliced=False)

    def exists(self) -> Select[Any]:
        statement = self.finish(select(literal(1)).select_from(self.model), ordered=False, sliced=False)
        if self.state.offset:
            statement = statement.offset(self.slot(self.state.offset, "offset"))
        return statement.limit(1)

    def aggregate(self, aggregates: dict[str, Aggregate]) -> Select[Any]:
        if self.state.distinct or self.state.limit is not None or self.state.offset:
            raise FieldError("aggregate() on a sliced or distinct QuerySet is not supported; aggregate first")
        columns = [self.plain_aggregate(aggregate).label(name) for name, aggregate in aggregates.items()]
        return self.finish(select(*columns).select_from(self.model), ordered=False)

    def write_where(self) -> list[ColumnElement[bool]]:
        """Conditions for UPDATE/DELETE: direct when no join is needed, else ``pk IN (SELECT ...)``."""
        where = self.where()
        if not self.joins:
            return where
        pk = getattr(self.model, self.info.pk_name)
        return [pk.in_(self.finish(select(pk), ordered=False, sliced=False, where=where))]


def to_one_steps(model: type[Any], path: str) -> list[tuple[str, str, ModelInfo]]:
    """The steps of a ``select_related`` path from ``model``: (relation name, the path up to it, the related
    model's info) for each relation crossed.

    Raises:
        FieldError: a step names no relation, or a to-many one (``prefetch_related`` loads those).
    """
    info = model_info(model)
    parts = path.split("__")
    steps = []
    for index, part in enumerate(parts):
        rel = info.relations.get(part)
        if rel is None:
            raise Compiler.unknown(info, part, path)
        if rel.uselist:
            raise FieldError(
                f"select_related({path!r}): {part!r} is a to-many relation; use prefetch_related({path!r})"
            )
        info = model_info(rel.mapper.class_)
        steps.append((part, "__".join(parts[: index + 1]), info))
    return steps


_ALIASES: dict[tuple[type, str], tuple[Any, Any]] = {}


def _joined_alias(model: type, path: str, parent: Any, relation: str) -> tuple[Any, Any]:
    """The alias and ON clause for a relation path from ``model``, made once per process: statements that
    reuse them hit SQLAlchemy's compiled-statement cache, and aliasing costs nothing after the first time."""
    key = (model, path)
    cached = _ALIASES.get(key)
    if cached is None:
        target = model_info(_class_of(parent)).relations[relation].mapper.class_
        alias = aliased(target, name=f"{path}_rel")
        cached = _ALIASES[key] = (alias, getattr(parent, relation).of_type(alias))
    return cached


def _class_of(entity: Any) -> type:
    if isinstance(entity, AliasedClass):
        return inspect(entity).mapper.class_  # type: ignore[no-any-return]
    return entity  # type: ignore[no-any-return]


def _pks(values: Any) -> list[Any]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise FieldError(f"the in lookup takes a list of values, got {values!r}")
    return [related_pk(v) for v in values]


def _strip_prefix(q: Q, relation: str) -> Q:
    """``Q(books__pages__gt=1)`` relative to the related model: ``Q(pages__gt=1)``."""
    copy = Q()
    copy.connector, copy.negated = q.connector, q.negated
    for child in q.children:
        if isinstance(child, Q):
            copy.children.append(_strip_prefix(child, relation))
            continue
        key, value = child
        if not key.startswith(relation + "__"):
            raise FieldError(
                f"an aggregate's filter must name fields of {relation!r}, like {relation}__..., not {key!r}"
            )
        copy.children.append((key[len(relation) + 2 :], value))
    return copy
