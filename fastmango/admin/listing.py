"""The admin's list: cursor pages in any order, a total without COUNT on large tables, facets and autocomplete.

Pages are keyset pages: a cursor holds the ordering values of the row it continues from, so a page deep in a
large table costs what the first one does. When an ordering field can be NULL (NULLs sort differently on SQLite
and PostgreSQL) the cursor holds an offset instead.

The total is counted up to :data:`COUNT_LIMIT` rows (a COUNT over at most that many); past that it is an
estimate: PostgreSQL's ``pg_class.reltuples`` for the table when the list is not filtered, else the limit
itself, a lower bound (``total_is_estimate`` says so). A 2-million-row table lists without counting it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python
from sqlalchemy import text

from fastmango.admin.relations import labels_of, visible_links
from fastmango.api.bounds import is_utc, utc_moment, value_adapter
from fastmango.api.caller import Caller
from fastmango.api.filters import BadQueryParameter
from fastmango.api.labels import label_field, object_label
from fastmango.db import execute
from fastmango.db.compiler import model_info
from fastmango.db.expressions import Q
from fastmango.db.query import QuerySet

if TYPE_CHECKING:
    from fastmango.admin.options import ModelAdmin

#: Rows counted exactly at most; beyond, the total is an estimate.
COUNT_LIMIT = 10_000
#: Distinct values a facet lists at most.
MAX_FACET_VALUES = 50
#: Parameters of the list that are no filters.
LIST_PARAMETERS = frozenset({"cursor", "limit", "search", "ordering", "field", "q", "pks"})


async def filtered(model_admin: ModelAdmin, caller: Caller, params: Sequence[tuple[str, str]]) -> QuerySet[Any]:
    """The caller's rows (the resource's, after its list permission) narrowed by filters, search and ordering."""
    resource = model_admin.resource
    await resource.authorize(caller, "list")
    pairs = [(key, value) for key, value in params if key not in ("cursor", "limit", "field", "q", "pks")]
    return model_admin.filters.apply(await resource.queryset(caller), pairs)


def ordering_of(model_admin: ModelAdmin, params: Mapping[str, str]) -> tuple[str, ...]:
    """The ordering a list request asks for, the primary key last (a total order for keyset pages)."""
    fields = list(model_admin.filters.parse_ordering(params.get("ordering") or None))
    pk = model_admin.pk
    if not any(item.lstrip("-") in (pk, "pk") for item in fields):
        fields.append(pk)
    return tuple(fields)


def _nullable(model: type[Any], path: str) -> bool:
    """Whether a ``relation__field`` path can be NULL for some row (a nullable key on the way, or the column)."""
    info = model_info(model)
    parts = path.split("__")
    for part in parts[:-1]:
        relation = info.relations[part]
        if any(column.nullable for column in relation.local_columns):
            return True
        info = model_info(relation.mapper.class_)
    column = info.mapper.columns.get(parts[-1])
    return bool(column is not None and column.nullable and not column.primary_key)


#: The largest offset a list cursor may carry (far past any table; well inside every database's BIGINT).
MAX_CURSOR_OFFSET = 2**53


def encode(payload: dict[str, Any]) -> str:
    raw = json.dumps(to_jsonable_python(payload, fallback=str), separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str) -> dict[str, Any]:
    try:
        if len(cursor) > 4096:
            raise ValueError("too long")
        payload = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        if not isinstance(payload, dict):
            raise ValueError("not an object")
        return payload
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise BadQueryParameter("cursor", "The cursor is not valid; use a `next` or `previous` value.") from None


def _after(model: type[Any], ordering: Sequence[str], values: Sequence[Any], backwards: bool) -> Q:
    """Rows after (or before) the row whose ordering values are ``values``, in ``ordering``."""
    condition: Q | None = None
    for index, item in enumerate(ordering):
        field = item.lstrip("-")
        descending = item.startswith("-") != backwards
        part = Q(**{f"{field}__{'lt' if descending else 'gt'}": values[index]})
        for previous, value in zip(ordering[:index], values[:index], strict=False):
            part = part & Q(**{previous.lstrip("-"): value})
        condition = part if condition is None else condition | part
    assert condition is not None
    return condition


def _parse_values(model: type[Any], ordering: Sequence[str], raw: Any) -> list[Any]:
    if not isinstance(raw, list) or len(raw) != len(ordering):
        raise BadQueryParameter("cursor", "The cursor does not match this list's ordering.")
    values = []
    for item, value in zip(ordering, raw, strict=True):
        field = item.lstrip("-")
        try:
            parsed = value_adapter(model, field).validate_python(value)
        except ValueError:
            raise BadQueryParameter("cursor", "The cursor is not valid; use a `next` or `previous` value.") from None
        values.append(utc_moment(parsed) if is_utc(model, field) else parsed)
    return values


async def page(
    model_admin: ModelAdmin, caller: Caller, params: Sequence[tuple[str, str]], limit: int
) -> dict[str, Any]:
    """One list page: ``{items, next, previous, total, total_is_estimate}``."""
    query = dict(params)
    queryset = await filtered(model_admin, caller, params)
    ordering = ordering_of(model_admin, query)
    queryset = queryset.order_by(*ordering)
    model = model_admin.model
    # Keyset pages need every ordering value non-NULL and in the rows (the read schema); else offsets.
    keyset = not any(_nullable(model, item.lstrip("-")) for item in ordering)
    cursor = decode(query["cursor"]) if query.get("cursor") else None
    if cursor is not None and cursor.get("o") != list(ordering):
        raise BadQueryParameter("cursor", "The cursor belongs to another ordering; start from the first page.")
    backwards = bool(cursor and cursor.get("d") == "p")
    offset = 0
    if cursor is not None and "off" in cursor:
        offset = max(int(cursor["off"]), 0) if str(cursor["off"]).isdigit() else 0
        if offset > MAX_CURSOR_OFFSET:  # no database takes an OFFSET past a 64-bit integer
            raise BadQueryParameter("cursor", "The cursor is not valid; use a `next` or `previous` value.")
        window = queryset[offset : offset + limit + 1]
    elif cursor is not None:
        values = _parse_values(model, ordering, cursor.get("v"))
        narrowed = queryset.filter(_after(model, ordering, values, backwards))
        window = (narrowed.reverse() if backwards else narrowed)[: limit + 1]
    else:
        window = queryset[: limit + 1]
    rows = await model_admin.resource.rows(window)
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    if rows and any(value is None for value in _key(rows[0], ordering)):
        keyset = False
    items = [_labelled(model_admin, row) for row in rows]
    following = previous = None
    if keyset and rows:
        first, last = _key(rows[0], ordering), _key(rows[-1], ordering)
        has_next = more if not backwards else True
        has_previous = (cursor is not None) if not backwards else more
        following = encode({"o": list(ordering), "v": last, "d": "n"}) if has_next else None
        previous = encode({"o": list(ordering), "v": first, "d": "p"}) if has_previous else None
    elif not keyset:
        following = encode({"o": list(ordering), "off": offset + limit}) if more else None
        previous = encode({"o": list(ordering), "off": max(offset - limit, 0)}) if offset > 0 else None
    total, estimate = await count(model_admin, queryset, filtered_by=_filters_in(params))
    return {"items": items, "next": following, "previous": previous, "total": total, "total_is_estimate": estimate}


def _key(row: Mapping[str, Any], ordering: Sequence[str]) -> list[Any]:
    values = []
    for item in ordering:
        value: Any = row
        for part in item.lstrip("-").split("__"):
            value = value.get(part) if isinstance(value, Mapping) else None
        values.append(value)
    return values


def _filters_in(params: Sequence[tuple[str, str]]) -> bool:
    return any(key not in LIST_PARAMETERS or (key == "search" and value.strip()) for key, value in params)


def _labelled(model_admin: ModelAdmin, row: dict[str, Any]) -> dict[str, Any]:
    """A row with its ``_label``, and one in each nested related row."""
    model = model_admin.model
    for relation in model_admin.resource.select_related:
        nested = row.get(relation)
        if isinstance(nested, dict):
            nested["_label"] = object_label(model_info(model).relations[relation].mapper.class_, nested)
    row["_label"] = object_label(model, row)
    return row


async def count(model_admin: ModelAdmin, queryset: QuerySet[Any], *, filtered_by: bool) -> tuple[int, bool]:
    """The rows of ``queryset``: ``(total, is_estimate)``, counting at most :data:`COUNT_LIMIT` of them.

    An unfiltered list of an unscoped resource on PostgreSQL asks the planner's estimate first and runs no COUNT at
    all when the table is big: a COUNT, even capped, reads up to :data:`COUNT_LIMIT` rows on every page.
    """
    whole_table = not filtered_by and execute.dialect() == "postgresql"
    if whole_table and not model_admin.resource.scoped:
        estimate = await _estimate(model_admin)
        if estimate > COUNT_LIMIT:
            return estimate, True
    counted = await queryset.order_by()[: COUNT_LIMIT + 1].count()
    if counted <= COUNT_LIMIT:
        return counted, False
    if whole_table:
        estimate = await _estimate(model_admin)
        if estimate > COUNT_LIMIT:
            return estimate, True
    return COUNT_LIMIT, True


async def _estimate(model_admin: ModelAdmin) -> int:
    """PostgreSQL's estimate of the table's rows (``pg_class.reltuples``; -1 or 0 before it was ever analyzed)."""
    statement = text("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(:table)")
    found = await execute.core_rows(statement, {"table": model_admin.model.__tablename__})
    return int(found[0][0]) if found and found[0][0] is not None else -1


async def facets(model_admin: ModelAdmin, caller: Caller, params: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The values of one ``list_filter`` field among the (otherwise filtered) rows, with their counts."""
    query = dict(params)
    field = query.get("field", "")
    if field not in model_admin.filter_paths:
        allowed = ", ".join(model_admin.filter_paths) or "none"
        raise BadQueryParameter("field", f"No facet {field!r}; the list filters on: {allowed}.")
    path = model_admin.filter_paths[field]
    own = [(key, value) for key, value in params if key != path and not key.startswith(path + "__")]
    queryset = (await filtered(model_admin, caller, own)).order_by()
    values = await queryset.values_list(path, flat=True).order_by(path).distinct()[:MAX_FACET_VALUES]
    labels = await _facet_labels(model_admin, caller, field, list(values))
    found = []
    for value in values:
        matching = queryset.filter(**({path: value} if value is not None else {f"{path}__isnull": True}))
        counted = await matching[: COUNT_LIMIT + 1].count()
        label = labels.get(value, "-" if value is None else str(value))
        found.append({"value": value, "label": label, "count": counted})
    return {"field": field, "values": found}


async def _facet_labels(model_admin: ModelAdmin, caller: Caller, field: str, values: list[Any]) -> dict[Any, str]:
    info = model_admin.fields.get(field) or model_admin.fields.get(model_admin.filter_paths[field])
    if info is not None and info.choices:
        return {value: label for value, label in info.choices}
    related = info.related if info is not None else None
    if related is None:
        relation = model_admin.resource.info.relations.get(field)
        related = relation.mapper.class_ if relation is not None else None
    if related is None:
        return {}
    return await labels_of(model_admin, caller, related, values)


async def autocomplete(
    model_admin: ModelAdmin, caller: Caller, term: str, limit: int, pks: Sequence[str] = ()
) -> dict[str, Any]:
    """Rows of this admin matching ``term`` in its search fields (or the rows ``pks``): ``{items: [{pk, label}]}``."""
    resource = model_admin.resource
    await resource.authorize(caller, "list")
    queryset = await resource.queryset(caller)
    pk = model_admin.pk
    if pks:
        adapter = value_adapter(model_admin.model, pk)
        try:
            keys = [adapter.validate_python(key) for key in pks]
        except ValueError:
            raise BadQueryParameter("pks", "pks takes primary keys, comma-separated.") from None
        queryset = queryset.filter(**{f"{pk}__in": keys})
    elif term.strip():
        queryset = model_admin.filters.apply(queryset, [("search", term)])
    shown = label_field(model_admin.model)
    names = [pk, shown] if shown else [pk]
    rows = await queryset.order_by(*([shown] if shown else []), pk).values(*names)[:limit]
    return {"items": [{"pk": row[pk], "label": object_label(model_admin.model, row)} for row in rows]}


async def with_relations(model_admin: ModelAdmin, row: dict[str, Any], caller: Caller | None = None) -> dict[str, Any]:
    """A detail row with the many-to-many keys the caller may see (``"tags": [1, 2]``) and its label.

    Without ``caller`` the many-to-many fields are left out (:func:`fastmango.admin.editing.inline_rows` adds them
    for its caller)."""
    if caller is not None:
        row.update(await visible_links(model_admin, caller, row[model_admin.pk]))
    return _labelled(model_admin, row)
