"""What every app must answer before it is timed, computed from the deterministic seed (:func:`common.seed`).

The fastmango app also answers the admin phase's probes (:func:`entry_probes`, :func:`admin_page_check`) on
``benchentry`` (:func:`common.create_entries`).

The probes are plain data, so that the harness (real servers, http.client) and the smoke test (ASGI
transport) check the same things.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tools.bench.http import common

NEW_BOOK = {"title": "Checked book", "pages": 321, "published": "2024-02-29", "author_id": 3}
BAD_BOOK = {"title": "Bad book", "pages": "many", "published": "2024-02-29", "author_id": 3}


def expected_book(pk: int, authors: int = common.AUTHORS) -> dict[str, Any]:
    """Book ``pk`` as :func:`common.seed` made it, in the JSON every app answers with."""
    author_id = 1 + pk % authors
    published = datetime.date(2000, 1, 1) + datetime.timedelta(days=(pk * 11) % 9000)
    return {
        "id": pk,
        "title": f"Book {pk}",
        "pages": 50 + (pk * 37) % 900,
        "published": published.isoformat(),
        "author_id": author_id,
        "author": {"id": author_id, "name": f"Author {author_id}"},
    }


def expected_catalog(
    rows: int = common.ROWS,
    authors: int = common.AUTHORS,
    *,
    ordering: str | None = None,
    author_id: int | None = None,
    search: str | None = None,
    offset: int = 0,
    limit: int = common.LIST_LIMIT,
) -> dict[str, Any]:
    """The ``GET /catalog`` page for these parameters, computed from the seed."""
    books = [expected_book(pk, authors) for pk in range(1, rows + 1)]
    if author_id is not None:
        books = [book for book in books if book["author_id"] == author_id]
    if search:
        books = [book for book in books if search.strip().lower() in book["title"].lower()]
    for name, descending in reversed(common.parse_ordering(ordering)):  # stable sorts, the last key first
        books.sort(key=lambda book: book[name], reverse=descending)
    return {"items": books[offset : offset + limit], "total": len(books), "limit": limit, "offset": offset}


@dataclass(frozen=True)
class Probe:
    """One request and the check of its answer (``check(status, json) -> problem or None``)."""

    method: str
    path: str
    body: dict[str, Any] | None
    check: Callable[[int, Any], str | None]
    headers: dict[str, str] | None = None

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def _equal(status: int, expected: Any) -> Callable[[int, Any], str | None]:
    def check(got_status: int, data: Any) -> str | None:
        if got_status != status:
            return f"status {got_status}, expected {status}: {data!r:.300}"
        if data != expected:
            return f"answered {data!r:.400}, expected {expected!r:.400}"
        return None

    return check


def _created(status: int, data: Any) -> str | None:
    if status != 201:
        return f"status {status}, expected 201: {data!r:.300}"
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        return f"no id in {data!r:.300}"
    expected = {**NEW_BOOK, "id": data["id"], "author": {"id": 3, "name": "Author 3"}}
    return None if data == expected else f"answered {data!r:.400}, expected {expected!r:.400}"


def _refused(status: int, data: Any) -> str | None:
    return None if status in (400, 422) else f"an invalid body got status {status}, expected 400 or 422"


def _missing(status: int, data: Any) -> str | None:
    return None if status == 404 else f"a missing row got status {status}, expected 404"


def _bad_ordering(status: int, data: Any) -> str | None:
    return None if status in (400, 422) else f"ordering on a field not offered got status {status}, expected 400"


def catalog_probes(rows: int = common.ROWS, authors: int = common.AUTHORS) -> list[Probe]:
    """The client scenarios on ``GET /catalog``: ordering, filter plus search, offset pages, each with its total."""
    path = common.CATALOG_PATH
    cases: list[tuple[str, dict[str, Any]]] = [
        ("ordering=-published", {"ordering": "-published"}),
        ("ordering=-published&offset=20", {"ordering": "-published", "offset": 20}),
        ("ordering=pages,-published&limit=7", {"ordering": "pages,-published", "limit": 7}),
        ("author_id=1&search=0", {"author_id": 1, "search": "0"}),
        ("author_id=3&search=1", {"author_id": 3, "search": "1"}),
        ("author_id=3&search=1&offset=10", {"author_id": 3, "search": "1", "offset": 10}),
        ("offset=40", {"offset": 40}),
        (f"offset={rows - 5}", {"offset": rows - 5}),
    ]
    return [
        *(
            Probe("GET", f"{path}?{query}", None, _equal(200, expected_catalog(rows, authors, **p)))
            for query, p in cases
        ),
        Probe("GET", f"{path}?ordering=title", None, _bad_ordering),
    ]


def probes(rows: int = common.ROWS, authors: int = common.AUTHORS) -> list[Probe]:
    """The requests every app must answer right, for a database seeded with ``rows`` and ``authors``."""
    limit = common.LIST_LIMIT
    first_page = [expected_book(pk, authors) for pk in range(1, min(rows, limit) + 1)]
    following = common.encode_cursor(limit) if rows > limit else None
    return [
        Probe("GET", "/health", None, lambda status, data: None if status == 200 else f"status {status}"),
        Probe("GET", "/hello", None, _equal(200, common.HELLO)),
        Probe("GET", "/books/1", None, _equal(200, expected_book(1, authors))),
        Probe("GET", f"/books/{rows}", None, _equal(200, expected_book(rows, authors))),
        Probe("GET", f"/books/{rows + 1000}", None, _missing),
        Probe("GET", "/books", None, _equal(200, {"items": first_page, "next": following, "limit": limit})),
        *catalog_probes(rows, authors),  # before the create probes: their totals count the seeded rows only
        Probe("POST", "/books", NEW_BOOK, _created),
        Probe("POST", "/books", BAD_BOOK, _refused),
    ]


def expected_entry(pk: int) -> dict[str, Any]:
    """Row ``pk`` of ``benchentry`` as :func:`common.create_entries` made it (the CRUD list's JSON)."""
    published = datetime.date(2000, 1, 1) + datetime.timedelta(days=(pk * 11) % 9000)
    return {"id": pk, "title": f"Entry {pk}", "pages": 50 + (pk * 37) % 900, "published": published.isoformat()}


#: fastmango.admin.listing.COUNT_LIMIT: rows the admin counts exactly at most.
ADMIN_COUNT_LIMIT = 10_000
#: How far the admin's estimate may be from the table's size (``pg_class.reltuples`` is an estimate).
ESTIMATE_TOLERANCE = 0.1


def expected_total(rows: int) -> tuple[int, bool]:
    """The admin's ``(total, total_is_estimate)`` for an unfiltered list of ``rows`` rows: counted up to
    :data:`ADMIN_COUNT_LIMIT`, else ``pg_class.reltuples`` (which a VACUUM ANALYZE sets to ``rows``)."""
    return rows, rows > ADMIN_COUNT_LIMIT


def admin_page_check(rows: int, page: int, limit: int = common.LIST_LIMIT) -> Callable[[int, Any], str | None]:
    """The check of the admin list's ``page``-th page (0: the first) of ``benchentry``, newest first (the
    admin's default ordering, ``-id``): the rows with their ``_label``, ``next``/``previous`` cursors, the total."""
    first = rows - page * limit
    items = [{**expected_entry(pk), "_label": f"Entry {pk}"} for pk in range(first, max(first - limit, 0), -1)]
    total, estimate = expected_total(rows)

    def check(status: int, data: Any) -> str | None:
        if status != 200:
            return f"status {status}, expected 200: {data!r:.300}"
        if not isinstance(data, dict) or data.get("items") != items:
            got = data.get("items") if isinstance(data, dict) else data
            return f"items {got!r:.400}, expected {items!r:.400}"
        if (data.get("next") is None) != (first - limit <= 0):
            return f"next is {data.get('next')!r} on page {page} of {rows} rows"
        if (data.get("previous") is None) != (page == 0):
            return f"previous is {data.get('previous')!r} on page {page}"
        if data.get("total_is_estimate") is not estimate:
            return f"total_is_estimate is {data.get('total_is_estimate')!r}, expected {estimate} for {rows:,} rows"
        got_total = data.get("total")
        if not isinstance(got_total, int) or abs(got_total - total) > (total * ESTIMATE_TOLERANCE if estimate else 0):
            return f"total {got_total!r}, expected {'about ' if estimate else ''}{total:,}"
        return None

    return check


def entry_probes(rows: int, admin_path: str, token: str) -> list[Probe]:
    """The admin phase's requests: the admin's first page (staff only: 401 without the token) and the CRUD offset
    page of ``benchentry`` in the middle of the table, with its total."""
    headers = {"Authorization": f"Bearer {token}"}
    offset = rows // 2
    crud_page = {
        "items": [expected_entry(pk) for pk in range(offset + 1, min(offset + common.LIST_LIMIT, rows) + 1)],
        "total": rows,
        "limit": common.LIST_LIMIT,
        "offset": offset,
    }
    return [
        Probe("GET", admin_path, None, admin_page_check(rows, 0), headers),
        Probe("GET", admin_path, None, lambda status, data: None if status == 401 else f"anonymous got {status}"),
        Probe("GET", f"{common.ENTRIES_PATH}?offset={offset}", None, _equal(200, crud_page), headers),
    ]


def parse(body: bytes) -> Any:
    """The JSON of a response body, or the text when it is not JSON."""
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")
