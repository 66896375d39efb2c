"""The staff-only status API: recent jobs per task, one job, and counts by state (``/tasks/...``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from fastmango.auth.dependencies import require_staff
from fastmango.core.errors import ProblemError
from fastmango.core.problems import problem_responses
from fastmango.tasks.backends import Backend
from fastmango.tasks.definition import registered_tasks
from fastmango.tasks.jobs import JobInfo, JobState

router = APIRouter(prefix="/tasks", tags=["tasks"], dependencies=[Depends(require_staff)])


class JobList(BaseModel):
    """Recent jobs, newest first."""

    items: list[JobInfo]


class TaskStats(BaseModel):
    """How many of each task's retained jobs are in each state."""

    backend: str
    queue: str
    tasks: dict[str, dict[str, int]]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return problem_responses(401, 403, *statuses, 503)


def _backend(request: Request) -> Backend:
    backend: Backend | None = getattr(request.app.state, "tasks", None)
    if backend is None:
        raise ProblemError(503, "The task backend is not configured.", title="Service unavailable")
    return backend


@router.get("/jobs", response_model=JobList, operation_id="tasks_jobs", summary="Recent jobs", responses=_errors(422))
async def list_jobs(
    request: Request,
    task: str | None = Query(None, description="Only this task's jobs."),
    state: JobState | None = Query(None, description="Only jobs in this state."),
    limit: int = Query(50, ge=1, le=1000),
) -> JobList:
    """The newest jobs (by enqueue time), optionally of one task and in one state."""
    return JobList(items=await _backend(request).history.recent(task, state, limit))


@router.get(
    "/jobs/{job_id}", response_model=JobInfo, operation_id="tasks_job", summary="One job", responses=_errors(404, 422)
)
async def get_job(request: Request, job_id: str) -> JobInfo:
    """A job's record: state, attempts, arguments, result or error."""
    info = await _backend(request).history.get(job_id)
    if info is None:
        raise ProblemError(404, f"No record of job {job_id}.", title="Not found")
    return info


@router.get(
    "/stats", response_model=TaskStats, operation_id="tasks_stats", summary="Jobs by state", responses=_errors()
)
async def stats(request: Request) -> TaskStats:
    """For each task, how many of its retained jobs are queued, in progress, retried, complete and failed."""
    backend = _backend(request)
    counts = await backend.history.stats({t.name for t in registered_tasks()})
    return TaskStats(backend=backend.name, queue=backend.queue, tasks=counts)
