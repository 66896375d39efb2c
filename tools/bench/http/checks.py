"""What every app must answer before it is timed, computed from the deterministic seed (:func:`common.seed`).

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


def parse(body: bytes) -> Any:
    """The JSON of a response body, or the text when it is not JSON."""
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")
