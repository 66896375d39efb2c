"""N+1 detection: the same query run again and again within one request, job or agent run.

Statements are grouped by the pipeline's shape (the same query with other values) or, for statements it did not
plan, by their SQL. A group of at least ``threshold`` is a warning that names the relation and the fix, found
from the models' relationships: a model read one row at a time by its primary key is the to-one relation of
another model (``Post.objects.select_related("author")``); a model read by a foreign key is the to-many relation
of the model it points to (``Post.objects.prefetch_related("comments")``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import RelationshipDirection

from fastmango.core.recorder import Record

DEFAULT_THRESHOLD = 3


class NPlusOneDetected(AssertionError):
    """Raised by :func:`fastmango.testing.assert_no_n_plus_one` when a block repeats a query (pytest shows it)."""


def find_repeated(queries: list[dict[str, Any]], threshold: int = DEFAULT_THRESHOLD) -> list[dict[str, Any]]:
    """The groups of statements of one shape run at least ``threshold`` times, each with the fix named."""
    counts: Counter[Any] = Counter()
    firsts: dict[Any, dict[str, Any]] = {}
    for query in queries:
        key = _group_key(query)
        if key is not None:
            counts[key] += 1
            firsts.setdefault(key, query)
    warnings = []
    for key, times in counts.most_common():
        if times < threshold:
            break
        first = firsts[key]
        counting = first["sql"].lstrip()[:13].lower() == "select count("
        relation, fix = suggest_fix(first.get("model"), first.get("filters") or [], counting=counting)
        warnings.append(
            {
                "kind": "n+1",
                "count": times,
                "sql": first["sql"],
                "site": first.get("site"),
                "model": first.get("model"),
                "relation": relation,
                "fix": fix,
                "message": f"{times} similar queries{_where(first)}: {fix}",
            }
        )
    return warnings


def analyse(record: Record, threshold: int = DEFAULT_THRESHOLD) -> None:
    """Add the record's N+1 warnings to ``record.warnings``."""
    record.warnings.extend(find_repeated(record.queries, threshold))


def suggest_fix(model_name: str | None, filters: list[str], *, counting: bool = False) -> tuple[str | None, str]:
    """The relation a repeated query of ``model_name`` filtered on ``filters`` loads, and how to load it at once
    (``counting``: the query counts the rows, which one annotated query does for every parent)."""
    generic = (
        'load the rows at once: select_related("<relation>") for a to-one relation, prefetch_related("<relation>") '
        "for a to-many one, or one filter(<field>__in=[...]) instead of a query per row"
    )
    model = _model_named(model_name)
    if model is None or len(filters) != 1:
        return None, generic
    field = filters[0].split("__")[0]
    mapper = inspect(model)
    primary = {column.key for column in mapper.primary_key}
    if field == "pk" or field in primary:
        for other in _mappers():
            for relation in other.relationships:
                if relation.mapper is mapper and relation.direction is RelationshipDirection.MANYTOONE:
                    owner = other.class_.__name__
                    return (
                        f"{owner}.{relation.key}",
                        f"{model.__name__} is read one row at a time: load it with the {owner} rows, "
                        f'{owner}.objects.select_related("{relation.key}")',
                    )
        return None, f"{model.__name__} is read one row at a time: read them at once, filter(pk__in=[...])"
    for relation in mapper.relationships:
        local = {column.key for column in relation.local_columns}
        if relation.direction is RelationshipDirection.MANYTOONE and (field == relation.key or field in local):
            parent = relation.mapper
            back = next(
                (
                    r
                    for r in parent.relationships
                    if r.mapper is mapper and r.direction is RelationshipDirection.ONETOMANY
                ),
                None,
            )
            owner = parent.class_.__name__
            if back is not None and counting:
                return (
                    f"{owner}.{back.key}",
                    f"the {model.__name__} rows of each {owner} are counted one {owner} at a time: "
                    f'{owner}.objects.annotate({back.key}_count=Count("{back.key}"))',
                )
            if back is not None:
                return (
                    f"{owner}.{back.key}",
                    f"the {model.__name__} rows of each {owner} are read one {owner} at a time: "
                    f'{owner}.objects.prefetch_related("{back.key}")',
                )
            return (
                f"{model.__name__}.{relation.key}",
                f"the {model.__name__} rows of each {owner} are read one {owner} at a time: read them at once, "
                f"filter({relation.key}__in=[...])",
            )
    return None, generic


def _group_key(query: dict[str, Any]) -> Any:
    if query.get("executemany") or query["sql"].lstrip()[:6].upper() != "SELECT":
        return None  # repeated writes are not N+1 reads (and a bulk write is one statement)
    return query.get("shape") or " ".join(query["sql"].split())


def _where(query: dict[str, Any]) -> str:
    site = query.get("site")
    return f" at {site}" if site else ""


def _mappers() -> list[Any]:
    from sqlmodel import SQLModel

    return list(SQLModel._sa_registry.mappers)


def _model_named(name: str | None) -> type[Any] | None:
    if name is None:
        return None
    matches = [mapper.class_ for mapper in _mappers() if mapper.class_.__name__ == name]
    return matches[0] if len(matches) == 1 else None
