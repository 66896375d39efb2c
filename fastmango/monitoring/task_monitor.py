"""The task monitor API, under ``<admin_path>/api/monitoring/tasks``: jobs from the job-events record
(``tasks_job_event``), one job's timeline, retry of a failed job, abort of a queued one, the cron schedule and the
live workers. Staff with ``monitoring.view`` read; retry and abort need ``monitoring.change``.

A job's state is its last event: ``queued``, ``started``, ``retried``, ``succeeded``, ``failed`` or ``aborted``
(any later event wins over ``queued``, whose time the app and a worker's clock may order wrongly).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, get_args

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from fastmango.core.errors import ProblemError
from fastmango.core.problems import problem_responses
from fastmango.core.settings import Settings
from fastmango.db import execute
from fastmango.monitoring.permissions import CHANGE, VIEW, require
from fastmango.tasks.backends import ABORTED, Backend
from fastmango.tasks.definition import get_task, registered_tasks
from fastmango.tasks.errors import JobNotFound
from fastmango.tasks.events import JobEventRecord
from fastmango.tasks.heartbeat import WorkerInfo
from fastmango.tasks.jobs import JobInfo, JobState
from fastmango.tasks.signals import JobEventKind

if TYPE_CHECKING:
    pass

logger = logging.getLogger("fastmango.monitoring")

STATES: tuple[str, ...] = get_args(JobEventKind)
TERMINAL = ("succeeded", "retried", "failed", "aborted")


class JobSummary(BaseModel):
    """A job as its events tell it."""

    job_id: str
    task: str
    state: str = Field(description="The last event: queued, started, retried, succeeded, failed or aborted.")
    attempt: int
    max_attempts: int
    first_at: datetime = Field(description="Its first event (usually queued).")
    last_at: datetime = Field(description="Its last event.")
    duration: float | None = Field(None, description="Seconds the last attempt ran.")
    error: str | None = None
    worker: str | None = Field(None, description="The worker that sent the last event (None: the app).")


class JobPage(BaseModel):
    """Jobs, newest first (by their first event)."""

    items: list[JobSummary]
    limit: int
    offset: int
    next_offset: int | None = Field(description="The offset of the next page; None on the last one.")


class EventOut(BaseModel):
    """One event of a job."""

    event: str
    at: datetime
    attempt: int
    max_attempts: int
    wait: float | None = None
    duration: float | None = None
    error: str | None = None
    run_at: datetime | None = None
    worker: str | None = None


class JobDetail(BaseModel):
    """A job: its summary, its events in order, and its history record (arguments, result) while kept."""

    job: JobSummary
    events: list[EventOut]
    info: JobInfo | None = Field(description="The job history's record (None once expired).")


class Retried(BaseModel):
    """The job that retries a failed one."""

    job_id: str = Field(description="The new job's id.")
    retry_of: str
    task: str


class Aborted(BaseModel):
    """A job taken out of the queue."""

    job_id: str
    task: str
    state: str = "aborted"


class ScheduledTask(BaseModel):
    """A cron task: its schedule and its last run."""

    task: str
    cron: str
    next_run: datetime
    last_run: datetime | None = Field(None, description="When its last attempt started.")
    last_outcome: str | None = Field(None, description="succeeded, retried, failed or aborted.")
    last_error: str | None = None
    last_job_id: str | None = None


class Schedule(BaseModel):
    items: list[ScheduledTask]


class Workers(BaseModel):
    """The workers taking jobs from the queue."""

    backend: str
    queue: str
    alive: bool = Field(description="Whether anything runs jobs: a live worker (arq), or the app itself (inline).")
    workers: list[WorkerInfo]
    detail: str


def task_monitor_router(settings: Settings) -> APIRouter:
    """The task monitor's routes under ``<settings.admin_path>/api/monitoring/tasks``."""
    prefix = settings.admin_path.rstrip("/") + "/api/monitoring/tasks"
    # Under the admin's API, which stays out of the app's OpenAPI document as the admin's own routes do.
    router = APIRouter(prefix=prefix, tags=["monitoring"], include_in_schema=False)
    view = [require(VIEW)]

    @router.get(
        "/jobs",
        response_model=JobPage,
        operation_id="monitoring_task_jobs",
        dependencies=view,
        responses=_errors(400),
    )
    async def list_jobs(
        task: str | None = Query(None, description="Only this task's jobs."),
        state: str | None = Query(None, description=f"Only jobs whose last event is this one ({', '.join(STATES)})."),
        since: str | None = Query(None, description="Only jobs with events at or after this ISO 8601 time."),
        limit: int = Query(50, description="At most 1000."),
        offset: int = Query(0),
    ) -> JobPage:
        """Jobs from the job-events record, newest first."""
        if state is not None and state not in STATES:
            raise _bad(f"state must be one of {', '.join(STATES)}, not {state!r}.")
        if not 1 <= limit <= 1000 or offset < 0:
            raise _bad("limit must be 1 to 1000 and offset 0 or more.")
        found = await _jobs(task=task, state=state, since=_parse_since(since), limit=limit + 1, offset=offset)
        more = len(found) > limit
        return JobPage(items=found[:limit], limit=limit, offset=offset, next_offset=offset + limit if more else None)

    @router.get(
        "/jobs/{job_id}",
        response_model=JobDetail,
        operation_id="monitoring_task_job",
        dependencies=view,
        responses=_errors(404),
    )
    async def get_job(request: Request, job_id: str) -> JobDetail:
        """One job's events, oldest first, and its history record."""
        rows = await JobEventRecord.objects.filter(job_id=job_id).order_by("at", "id")
        info = await _backend(request).history.get(job_id)
        if not rows and info is None:
            raise _unknown(job_id)
        summary = next(iter(await _jobs(job_id=job_id, limit=1)), None) or _from_info(info)
        events = [EventOut.model_validate(row, from_attributes=True) for row in rows]
        return JobDetail(job=summary, events=events, info=info)

    @router.post(
        "/jobs/{job_id}/retry",
        response_model=Retried,
        status_code=201,
        operation_id="monitoring_task_retry",
        responses=_errors(404, 409),
    )
    async def retry_job(request: Request, job_id: str, user: Any = require(CHANGE)) -> Retried:
        """Enqueue a new job of a failed job's task with the same arguments."""
        info = await _backend(request).history.get(job_id)
        if info is None:
            if await JobEventRecord.objects.filter(job_id=job_id).exists():
                raise _conflict(f"The arguments of job {job_id} are no longer kept (its history expired).")
            raise _unknown(job_id)
        if info.state is not JobState.failed or info.error == ABORTED:
            state = "aborted" if info.error == ABORTED else info.state.value
            raise _conflict(f"Job {job_id} is {state}; only a failed job can be retried.")
        task = get_task(info.task)
        if task is None:
            raise _conflict(f"This app has no task named {info.task!r} to retry job {job_id} with.")
        job = await task.enqueue(**info.args)
        logger.info("job %s of task %s retried as job %s by %s", job_id, info.task, job.id, user)
        return Retried(job_id=job.id, retry_of=job_id, task=info.task)

    @router.post(
        "/jobs/{job_id}/abort",
        response_model=Aborted,
        operation_id="monitoring_task_abort",
        responses=_errors(404, 409),
    )
    async def abort_job(request: Request, job_id: str, user: Any = require(CHANGE)) -> Aborted:
        """Take a queued job out of the queue before it starts."""
        backend = _backend(request)
        try:
            aborted = await backend.abort(job_id)
        except JobNotFound:
            raise _unknown(job_id) from None
        if aborted is None:
            info = await backend.history.get(job_id)
            state = info.state.value if info is not None else "gone"
            raise _conflict(f"Job {job_id} is {state}; only a queued job can be aborted.")
        logger.info("job %s of task %s aborted by %s", job_id, aborted.task, user)
        return Aborted(job_id=job_id, task=aborted.task)

    @router.get("/schedule", response_model=Schedule, operation_id="monitoring_task_schedule", dependencies=view)
    async def schedule() -> Schedule:
        """Each cron task: its expression, next run, and its last run and outcome from the events."""
        now = datetime.now(UTC)
        items = []
        for scheduled in registered_tasks():
            if scheduled.schedule is None:
                continue
            events = JobEventRecord.objects.filter(task=scheduled.name).order_by("-at", "-id")
            started = await events.filter(event="started").first()
            ended = await events.filter(event__in=TERMINAL).first()
            items.append(
                ScheduledTask(
                    task=scheduled.name,
                    cron=scheduled.schedule.expression,
                    next_run=scheduled.schedule.next_after(now),
                    last_run=started.at if started is not None else None,
                    last_outcome=ended.event if ended is not None else None,
                    last_error=ended.error if ended is not None else None,
                    last_job_id=ended.job_id if ended is not None else started.job_id if started is not None else None,
                )
            )
        return Schedule(items=items)

    @router.get(
        "/workers",
        response_model=Workers,
        operation_id="monitoring_task_workers",
        dependencies=view,
        responses=_errors(503),
    )
    async def workers(request: Request) -> Workers:
        """The live workers (by their heartbeats); ``alive`` is false when none is."""
        backend = _backend(request)
        found = await backend.workers()
        if found is None:
            detail = "Jobs run inside the app's processes (the inline backend): there are no workers."
            return Workers(backend=backend.name, queue=backend.queue, alive=True, workers=[], detail=detail)
        detail = f"{len(found)} worker(s) alive." if found else "No worker is alive: queued jobs wait."
        return Workers(backend=backend.name, queue=backend.queue, alive=bool(found), workers=found, detail=detail)

    return router


async def _jobs(
    *,
    task: str | None = None,
    state: str | None = None,
    since: datetime | None = None,
    job_id: str | None = None,
    limit: int,
    offset: int = 0,
) -> list[JobSummary]:
    """Each job's last event (a later event wins over ``queued``), newest job first."""
    t: Any = JobEventRecord.__table__  # type: ignore[attr-defined]
    conditions = []
    if task is not None:
        conditions.append(t.c.task == task)
    if since is not None:
        conditions.append(t.c.at >= since)
    if job_id is not None:
        conditions.append(t.c.job_id == job_id)
    later = sa.case((t.c.event == "queued", 0), else_=1)
    ranked = (
        sa.select(
            t,
            sa.func.row_number()
            .over(partition_by=t.c.job_id, order_by=(later.desc(), t.c.at.desc(), t.c.id.desc()))
            .label("rank"),
            sa.func.min(t.c.at, type_=t.c.at.type).over(partition_by=t.c.job_id).label("first_at"),
        )
        .where(*conditions)
        .subquery()
    )
    statement = sa.select(ranked).where(ranked.c.rank == 1)
    if state is not None:
        statement = statement.where(ranked.c.event == state)
    statement = statement.order_by(ranked.c.first_at.desc(), ranked.c.job_id).limit(limit).offset(offset)
    return [
        JobSummary(
            job_id=row.job_id,
            task=row.task,
            state=row.event,
            attempt=row.attempt,
            max_attempts=row.max_attempts,
            first_at=row.first_at,
            last_at=row.at,
            duration=row.duration,
            error=row.error,
            worker=row.worker,
        )
        for row in await execute.core_rows(statement)
    ]


def _from_info(info: JobInfo | None) -> JobSummary:
    """A job with a history record but no event yet (its events are still buffered)."""
    assert info is not None
    state = {"in_progress": "started", "complete": "succeeded"}.get(info.state.value, info.state.value)
    return JobSummary(
        job_id=info.id,
        task=info.task,
        state="aborted" if info.error == ABORTED else state,
        attempt=info.attempt,
        max_attempts=info.max_attempts,
        first_at=info.enqueued_at,
        last_at=info.finished_at or info.started_at or info.enqueued_at,
        error=info.error,
    )


def _parse_since(text: str | None) -> datetime | None:
    if not text:  # absent, or sent empty (?since=)
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _bad(f"since must be an ISO 8601 time (2026-01-31T12:00:00Z), not {text!r}.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _backend(request: Request) -> Backend:
    backend: Backend | None = getattr(request.app.state, "tasks", None)
    if backend is None:
        raise ProblemError(503, "The task backend is not configured.", title="Service unavailable")
    return backend


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return problem_responses(401, 403, *statuses)


def _bad(detail: str) -> ProblemError:
    return ProblemError(400, detail, title="Bad request")


def _unknown(job_id: str) -> ProblemError:
    return ProblemError(404, f"No job {job_id} in the job events or the job history.", title="Not found")


def _conflict(detail: str) -> ProblemError:
    return ProblemError(409, detail, title="Conflict")
