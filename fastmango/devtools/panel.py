"""The debug panel at ``settings.debug_panel_path`` (``/_debug``): recent records, each with its SQL, logs, jobs,
AI calls and N+1 warnings; EXPLAIN on demand. Server-rendered HTML, and the same as JSON under ``/api``.

Only staff users with the ``debug.view`` permission see it (a superuser has every permission); a browser logs in
with the auth cookie (``POST /auth/token?cookie=true``, a form on the panel's 401 page does it).
"""

from __future__ import annotations

import datetime
from collections import Counter
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from fastmango.core.debug_page import prefers_html
from fastmango.core.errors import ProblemError
from fastmango.core.recorder import Record
from fastmango.devtools.explain import explain, explainable
from fastmango.devtools.store import RecordStore

if TYPE_CHECKING:
    from jinja2 import Environment

PERMISSION = "debug.view"
_TEMPLATES = Path(__file__).with_name("templates")
#: Records the list page shows, and that a record's page searches for the records linked to it.
PAGE_SIZE = 100


async def panel_user(request: Request) -> Any:
    """The caller, when they may see the panel: staff with ``debug.view``.

    Raises:
        ProblemError: 401 for an anonymous caller (a browser gets a login page), 403 for anyone else.
    """
    user: Any = getattr(request.state, "user", None)
    if user is None or not user.is_authenticated:
        raise ProblemError(401, "Log in as a staff user with the debug.view permission.", title="Not authenticated")
    if not (user.is_active and (user.is_staff or user.is_superuser) and await user.has_perm(PERMISSION)):
        raise ProblemError(403, "The debug panel is for staff users with the debug.view permission.", title="Forbidden")
    return user


def panel_router(path: str) -> APIRouter:
    """The panel's routes under ``path``: HTML pages, and their JSON under ``path/api``."""
    router = APIRouter(prefix=path, tags=["debug"], include_in_schema=False)
    api = [Depends(panel_user)]

    @router.get("/api/records", dependencies=api)
    async def list_records(request: Request, kind: str | None = None, request_id: str | None = None) -> JSONResponse:
        records = await _recent(request, kind, request_id)
        return JSONResponse([_summary(record) for record in records])

    @router.get("/api/records/{record_id}", dependencies=api)
    async def get_record(request: Request, record_id: str) -> JSONResponse:
        record = await _record(request, record_id)
        linked = await _linked(request, record)  # first: it fills in a job's request id
        return JSONResponse({**record.to_dict(), "linked": [_summary(other) for other in linked]})

    @router.get("/api/records/{record_id}/queries/{index}/explain", dependencies=api)
    async def explain_query(request: Request, record_id: str, index: int) -> JSONResponse:
        query = _query(await _record(request, record_id), index)
        return JSONResponse({"sql": query["sql"], "plan": await explain(query["sql"])})

    @router.get("/")
    async def index(request: Request, kind: str | None = None, request_id: str | None = None) -> Response:
        if (refused := await _refusal(request)) is not None:
            return refused
        records = await _recent(request, kind, request_id)
        return _page("panel_list.html", request, records=records, kind=kind, request_id=request_id)

    @router.get("/records/{record_id}")
    async def record_page(request: Request, record_id: str) -> Response:
        if (refused := await _refusal(request)) is not None:
            return refused
        record = await _record(request, record_id)
        repeated = Counter(query.get("shape") or query["sql"] for query in record.queries)
        linked = await _linked(request, record)
        return _page(
            "panel_record.html", request, record=record, repeated=repeated, linked=linked, explainable=explainable
        )

    @router.get("/records/{record_id}/queries/{index}/explain")
    async def explain_page(request: Request, record_id: str, index: int) -> Response:
        if (refused := await _refusal(request)) is not None:
            return refused
        record = await _record(request, record_id)
        query = _query(record, index)
        return _page("panel_explain.html", request, record=record, query=query, plan=await explain(query["sql"]))

    return router


async def _refusal(request: Request) -> Response | None:
    """None when the caller may see the panel; a browser that is not logged in gets the login page."""
    try:
        await panel_user(request)
    except ProblemError as exc:
        if exc.status == 401 and prefers_html(request.headers.get("accept", "")):
            return _page("panel_login.html", request, status_code=401)
        raise
    return None


def _store(request: Request) -> RecordStore:
    store: RecordStore = request.app.state.debug_store
    return store


async def _recent(request: Request, kind: str | None, request_id: str | None) -> list[Record]:
    records = await _store(request).recent(_store(request).max_records)
    if kind:
        records = [record for record in records if record.kind == kind]
    if request_id:
        records = [record for record in records if record.request_id == request_id]
    return records[:PAGE_SIZE]


async def _record(request: Request, record_id: str) -> Record:
    record = await _store(request).get(record_id)
    if record is None:
        raise ProblemError(404, f"No debug record {record_id!r}: it was pruned, or never kept.", title="Not found")
    return record


async def _linked(request: Request, record: Record) -> list[Record]:
    """The records of the same request id, the one it ran within and those within it, the jobs it queued and the
    request that queued it. A job runs with no request id of its own (a worker has none): it gets the id of the
    request that queued it."""
    linked = [
        other
        for other in await _store(request).recent(_store(request).max_records)
        if other.id != record.id and (_related(record, other) or _related(other, record))
    ]
    if record.request_id is None:
        record.request_id = next((other.request_id for other in linked if _related(other, record)), None)
    return linked


def _related(record: Record, other: Record) -> bool:
    same_request = record.request_id is not None and other.request_id == record.request_id
    queued = other.meta.get("job_id") in {task.get("job_id") for task in record.tasks}
    return same_request or other.parent == record.id or queued


def _query(record: Record, index: int) -> dict[str, Any]:
    if not 0 <= index < len(record.queries):
        raise ProblemError(404, f"Record {record.id} has {len(record.queries)} queries; there is no #{index}.")
    return record.queries[index]


def _summary(record: Record) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": record.kind,
        "name": record.name,
        "request_id": record.request_id,
        "parent": record.parent,
        "started_at": record.started_at,
        "duration": record.duration,
        "status": record.status,
        "user": record.user,
        "queries": len(record.queries),
        "warnings": len(record.warnings),
    }


def _page(template: str, request: Request, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = (
        _environment()
        .get_template(template)
        .render(request=request, panel=request.app.state.settings.debug_panel_path.rstrip("/"), **context)
    )
    return HTMLResponse(html, status_code=status_code)


def _time(started_at: float) -> str:
    return datetime.datetime.fromtimestamp(started_at, datetime.UTC).strftime("%H:%M:%S")


@cache
def _environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    environment = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=True, undefined=StrictUndefined)
    environment.filters["clock"] = _time
    return environment
