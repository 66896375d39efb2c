"""The admin phase (fastmango only): the admin's list of a 100,000-row table against the CRUD offset page.

Three variants on ``benchentry`` (:data:`common.ENTRY_ROWS` rows), each loaded with wrk as the other endpoints:
the admin list's first page, a later keyset page (the cursor found by following ``next``), and a
``CRUDRouter(pagination="offset")`` page in the middle of the table with its COUNT. Every request carries the
token of a staff superuser (created in the bench database by :func:`create_staff`, logged in by :func:`login`),
so that all three pay the same authentication. The statements one request of each runs are read from the app
(:mod:`statements`), with the total the admin answered.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tools.bench.http import checks, common, statements
from tools.bench.http.load import Endpoint
from tools.bench.http.servers import request

#: The admin's name of ``benchentry`` (a registered model's table name).
ADMIN_NAME = common.ENTRY_TABLE
FIRST_PAGE_PATH = f"/admin/api/models/{ADMIN_NAME}?limit={common.LIST_LIMIT}"
#: ``next`` is followed this many times from the first page to the keyset page loaded.
KEYSET_FOLLOWS = 5
#: The CRUD offset page loaded: the middle of the table.
CRUD_OFFSET = common.ENTRY_ROWS // 2
CRUD_PATH = f"{common.ENTRIES_PATH}?offset={CRUD_OFFSET}"
#: Rounds of the phase by default (a fresh app process each); medians are kept.
ROUNDS = 2

FIRST, KEYSET, CRUD = "admin-first", "admin-keyset", "crud-offset"
#: The variants' keys and report labels, in order.
VARIANTS: tuple[tuple[str, str], ...] = (
    (FIRST, f"admin list, first page (GET {FIRST_PAGE_PATH})"),
    (KEYSET, f"admin list, page {KEYSET_FOLLOWS + 1} by its keyset cursor (`next` followed {KEYSET_FOLLOWS} times)"),
    (CRUD, f"CRUD offset page with its COUNT (GET {CRUD_PATH})"),
)
#: The variants that must run no COUNT (the goal).
ADMIN_VARIANTS = (FIRST, KEYSET)


@dataclass(frozen=True)
class Read:
    """What one request of a variant did, read once from the app.

    Attributes:
        path: The request.
        status: Its status.
        statements: The SQL of each statement it ran (the authentication's too), in order.
        total / total_is_estimate: The ``total`` and ``total_is_estimate`` it answered (None when absent).
    """

    path: str
    status: int
    statements: Sequence[str] = field(default_factory=tuple)
    total: int | None = None
    total_is_estimate: bool | None = None

    @property
    def counts(self) -> list[str]:
        """The statements that count rows."""
        return statements.counts(self.statements)


class PhaseFailed(RuntimeError):
    """The app answered the admin phase's requests wrongly."""


async def create_staff(url: str) -> None:
    """Create fastmango's auth tables in the bench database and the staff superuser :data:`common.STAFF_USERNAME`,
    through fastmango's own API (the bench app's migrations are not run: its tables are the harness's)."""
    from sqlmodel import SQLModel

    from fastmango.auth.models import User
    from fastmango.db import connected

    async with connected(url, pool_size=1) as database:
        tables = [table for table in SQLModel.metadata.sorted_tables if table.name.startswith("auth_")]
        async with database.engine.begin() as conn:
            await conn.run_sync(lambda sync: SQLModel.metadata.create_all(sync, tables=tables))
        await User.objects.create_superuser(common.STAFF_USERNAME, common.STAFF_PASSWORD)


def login(port: int) -> str:
    """An access token of the staff user (``POST /auth/token``, the OAuth2 password form)."""
    form = urlencode({"username": common.STAFF_USERNAME, "password": common.STAFF_PASSWORD})
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    status, body = request(port, "POST", "/auth/token", raw=form.encode(), headers=headers)
    if status != 200:
        raise PhaseFailed(f"POST /auth/token for {common.STAFF_USERNAME} answered {status}: {body[:300]!r}")
    return str(json.loads(body)["access_token"])


def authorization(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def follow(port: int, token: str, rows: int = common.ENTRY_ROWS, follows: int = KEYSET_FOLLOWS) -> str:
    """The path of the admin list's page after following ``next`` ``follows`` times, each page checked.

    Raises:
        PhaseFailed: a page answered wrongly, or had no ``next``.
    """
    path = FIRST_PAGE_PATH
    for page in range(follows + 1):
        status, body = request(port, "GET", path, headers=authorization(token))
        data = checks.parse(body)
        problem = checks.admin_page_check(rows, page)(status, data)
        if problem is not None:
            raise PhaseFailed(f"GET {path} (page {page}): {problem}")
        if page < follows:
            path = f"{FIRST_PAGE_PATH}&cursor={data['next']}"
    return path


def endpoints(token: str, keyset_path: str) -> list[Endpoint]:
    """The three variants as wrk endpoints, each sending the staff token."""
    paths = {FIRST: FIRST_PAGE_PATH, KEYSET: keyset_path, CRUD: CRUD_PATH}
    headers = tuple(authorization(token).items())
    return [Endpoint(key, label, database=True, path=paths[key], headers=headers) for key, label in VARIANTS]


def read(port: int, token: str, path: str) -> Read:
    """One request of ``path`` with the statements it ran (recorded by the app, :mod:`statements`), after one
    unrecorded request of it (what a first request does once, such as caching a plan, is left out). Nothing else
    may be loading the app."""
    request(port, "GET", path, headers=authorization(token))
    status, body = request(port, "POST", statements.PATH)
    if status != 200:
        raise PhaseFailed(f"POST {statements.PATH} answered {status}: {body[:300]!r}")
    status, body = request(port, "GET", path, headers=authorization(token))
    recorded_status, recorded = request(port, "GET", statements.PATH)
    if recorded_status != 200:
        raise PhaseFailed(f"GET {statements.PATH} answered {recorded_status}: {recorded[:300]!r}")
    data: Any = checks.parse(body)
    data = data if isinstance(data, dict) else {}
    estimate = data.get("total_is_estimate")
    return Read(
        path=path,
        status=status,
        statements=tuple(json.loads(recorded)),
        total=data.get("total") if isinstance(data.get("total"), int) else None,
        total_is_estimate=estimate if isinstance(estimate, bool) else None,
    )
