"""What every benchmarked app shares: the tables, the seed, the pool size, the endpoints' shapes.

Also the fastmango-only admin phase's table (``benchentry``, :data:`ENTRY_ROWS` rows, no foreign key) and the
staff account it logs in with.

The apps read their database and pool size from the environment (``BENCH_DATABASE_URL``,
``BENCH_POOL_SIZE``) so that the harness can start them as plain ``uvicorn``/``gunicorn`` processes.

Tables have names of their own (``benchauthor``, ``benchbook``) so that the fastmango models never clash
with another project's ``author``/``book`` tables in SQLModel's shared metadata.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

#: The environment variables the apps read.
DATABASE_URL_VARIABLE = "BENCH_DATABASE_URL"
POOL_SIZE_VARIABLE = "BENCH_POOL_SIZE"

#: Connections each app may hold at most; equal to wrk's connections, so that no request waits for one.
POOL_SIZE = 16
#: Rows of ``benchbook`` and ``benchauthor`` seeded by the harness.
ROWS = 10_000
AUTHORS = 100
#: The offset-paged list of the client scenarios (filter, search, ordering, COUNT): ``GET /catalog``.
CATALOG_PATH = "/catalog"
#: Page size of ``GET /books`` and ``GET /catalog``.
LIST_LIMIT = 20
TITLE_MAX_LENGTH = 200
NAME_MAX_LENGTH = 100
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

HELLO = {"message": "Hello, World!"}

AUTHOR_TABLE = "benchauthor"
BOOK_TABLE = "benchbook"

SCHEMA = [
    f"CREATE TABLE {AUTHOR_TABLE} (id SERIAL PRIMARY KEY, name VARCHAR({NAME_MAX_LENGTH}) NOT NULL)",
    f"""CREATE TABLE {BOOK_TABLE} (
        id SERIAL PRIMARY KEY,
        title VARCHAR({TITLE_MAX_LENGTH}) NOT NULL,
        pages INTEGER NOT NULL,
        published DATE NOT NULL,
        author_id INTEGER NOT NULL REFERENCES {AUTHOR_TABLE} (id)
    )""",
    f"CREATE INDEX ix_{BOOK_TABLE}_author_id ON {BOOK_TABLE} (author_id)",
    # ``?ordering=-published`` is served by this index, as in any app that offers the ordering.
    f"CREATE INDEX ix_{BOOK_TABLE}_published ON {BOOK_TABLE} (published)",
]

#: The floor's SQL, also the reference every other app's answers are checked against.
#: The admin phase's table (fastmango only): large enough that the admin's total is an estimate.
ENTRY_TABLE = "benchentry"
ENTRY_ROWS = 100_000
ENTRY_SCHEMA = [
    f"""CREATE TABLE {ENTRY_TABLE} (
        id SERIAL PRIMARY KEY,
        title VARCHAR({TITLE_MAX_LENGTH}) NOT NULL,
        pages INTEGER NOT NULL,
        published DATE NOT NULL
    )""",
]
#: fastmango's offset-paged CRUD list of ``benchentry`` (``?offset=`` with its COUNT), the admin's comparison.
ENTRIES_PATH = "/entries"
#: The staff superuser the admin phase logs in as (``POST /auth/token``), created in the bench database.
STAFF_USERNAME = "bench-staff"
STAFF_PASSWORD = "bench-staff-password"

SELECT_BOOK = f"""SELECT b.id, b.title, b.pages, b.published, b.author_id, a.name AS author_name
    FROM {BOOK_TABLE} b JOIN {AUTHOR_TABLE} a ON a.id = b.author_id"""


#: What ``GET /catalog`` filters (``?author_id=``), searches (``?search=``, title contains, any case) and orders on
#: (``?ordering=-published,pages``; the primary key breaks ties and is the default order).
CATALOG_FILTER = "author_id"
CATALOG_SEARCH = "title"
CATALOG_ORDERING = ("published", "pages")
MAX_LIMIT = 100
MAX_SEARCH_LENGTH = 200


def parse_ordering(raw: str | None, allowed: tuple[str, ...] = CATALOG_ORDERING) -> list[tuple[str, bool]]:
    """``"-published,pages"`` as ``[("published", True), ("pages", False), ("id", False)]`` (name, descending);
    the primary key is appended as the tie-breaker unless named. Empty or absent: ``[("id", False)]``.

    Raises:
        ValueError: a field that is not ``allowed`` (the apps answer 400).
    """
    fields = [(item.removeprefix("-"), item.startswith("-")) for item in (raw or "").split(",") if item]
    for name, _ in fields:
        if name not in allowed:
            raise ValueError(f"cannot order by {name!r}; allowed: {', '.join(allowed)}")
    return fields if any(name == "id" for name, _ in fields) else [*fields, ("id", False)]


def like_escape(term: str) -> str:
    """``term`` with LIKE's wildcards escaped by ``/`` (fastmango's escape character)."""
    return term.replace("/", "//").replace("%", "/%").replace("_", "/_")


def database_url() -> str:
    """The app's database (``postgresql://...``), from ``BENCH_DATABASE_URL``."""
    try:
        return os.environ[DATABASE_URL_VARIABLE]
    except KeyError:
        raise RuntimeError(f"set {DATABASE_URL_VARIABLE} to the benchmark's PostgreSQL database") from None


def pool_size() -> int:
    """Connections per app, from ``BENCH_POOL_SIZE`` (default :data:`POOL_SIZE`)."""
    return int(os.environ.get(POOL_SIZE_VARIABLE, POOL_SIZE))


def plain_dsn(url: str) -> str:
    """``url`` as asyncpg and psycopg take it: ``postgresql://`` with no ``+driver``."""
    scheme, _, rest = url.partition("://")
    scheme = scheme.split("+", 1)[0]
    return f"{'postgresql' if scheme == 'postgres' else scheme}://{rest}"


def encode_cursor(value: Any) -> str:
    """The ``next`` cursor of a page ending at primary key ``value`` (fastmango's format)."""
    return base64.urlsafe_b64encode(json.dumps({"after": value}).encode()).decode().rstrip("=")


def page(items: list[Any], limit: int, pk: Any) -> dict[str, Any]:
    """``{items, next, limit}`` from ``limit + 1`` fetched items; ``pk(item)`` gives an item's primary key."""
    following = encode_cursor(pk(items[limit - 1])) if len(items) > limit else None
    return {"items": items[:limit], "next": following, "limit": limit}


def book_json(row: Any) -> dict[str, Any]:
    """A row of :data:`SELECT_BOOK` as the JSON every app answers with."""
    return {
        "id": row["id"],
        "title": row["title"],
        "pages": row["pages"],
        "published": row["published"],
        "author_id": row["author_id"],
        "author": {"id": row["author_id"], "name": row["author_name"]},
    }


async def create_schema(conn: Any) -> None:
    """Create the two tables on an asyncpg connection."""
    for statement in SCHEMA:
        await conn.execute(statement)


async def seed(conn: Any, rows: int = ROWS, authors: int = AUTHORS) -> None:
    """Fill the tables with ``authors`` authors and ``rows`` books (deterministic), then ANALYZE them."""
    await conn.execute(
        f"INSERT INTO {AUTHOR_TABLE} (name) SELECT 'Author ' || g FROM generate_series(1, $1::int) g", authors
    )
    await conn.execute(
        f"""INSERT INTO {BOOK_TABLE} (title, pages, published, author_id)
            SELECT 'Book ' || g, 50 + (g * 37) % 900, DATE '2000-01-01' + (g * 11) % 9000, 1 + g % $2::int
            FROM generate_series(1, $1::int) g""",
        rows,
        authors,
    )
    await conn.execute(f"ANALYZE {AUTHOR_TABLE}; ANALYZE {BOOK_TABLE}")


async def create_entries(conn: Any, rows: int = ENTRY_ROWS) -> None:
    """Create ``benchentry`` with ``rows`` rows (deterministic, see ``checks.expected_entry``), then VACUUM
    ANALYZE it, so that ``pg_class.reltuples`` (the admin's estimate) holds the table's size."""
    for statement in ENTRY_SCHEMA:
        await conn.execute(statement)
    await conn.execute(
        f"""INSERT INTO {ENTRY_TABLE} (title, pages, published)
            SELECT 'Entry ' || g, 50 + (g * 37) % 900, DATE '2000-01-01' + (g * 11) % 9000
            FROM generate_series(1, $1::int) g""",
        rows,
    )
    await conn.execute(f"VACUUM ANALYZE {ENTRY_TABLE}")


async def delete_created(conn: Any, rows: int = ROWS) -> int:
    """Remove the books the create endpoint added (those past the seeded ``rows``); the number removed."""
    status = await conn.execute(f"DELETE FROM {BOOK_TABLE} WHERE id > $1", rows)
    return int(status.split()[-1])
