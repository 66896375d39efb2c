"""Run one attempt of a job: the same code on every backend, so that a job behaves alike everywhere.

Each attempt runs in a permission scope of its own (:func:`fastmango.auth.permission_scope`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastmango.auth.permission_scope import permission_scope
from fastmango.core import recorder
from fastmango.tasks.context import TaskContext
from fastmango.tasks.definition import Task
from fastmango.tasks.signals import JobEvent, JobEventKind, job_event

logger = logging.getLogger("fastmango.tasks")


@dataclass
class Outcome:
    """How an attempt ended.

    Attributes:
        ok: The function returned and its result serialized.
        result: The JSON result when ``ok``.
        error: ``"ExceptionName: message"`` when not ``ok``.
        retry_in: Seconds until the next attempt, when the job is retried; None when the failure is final.
        exception: The exception that failed the attempt.
    """

    ok: bool
    result: Any = None
    error: str | None = None
    retry_in: float | None = None
    exception: BaseException | None = None


async def run_attempt(task: Task[Any], ctx: TaskContext, payload: dict[str, Any]) -> Outcome:
    """Validate the JSON arguments, run the function under the task's timeout, and serialize its result.

    Exceptions become a failed :class:`Outcome` (retried while attempts remain); cancellation propagates.
    With the debug panel on, the attempt is recorded (its SQL, logs, AI calls), linked to the request that queued it.
    """
    meta = {"job_id": ctx.job_id, "attempt": ctx.attempt, "max_attempts": ctx.max_attempts}
    started = datetime.now(UTC)
    wait = max(0.0, (started - ctx.enqueued_at).total_seconds())
    _announce(task, ctx, "started", started, wait=wait)
    clock = time.perf_counter()
    async with recorder.recording("job", task.name, **meta) as record:
        outcome = await _attempt(task, ctx, payload)
        kind: JobEventKind = "succeeded" if outcome.ok else "retried" if outcome.retry_in is not None else "failed"
        if record is not None:
            record.status = "ok" if outcome.ok else kind
            if outcome.error:
                record.meta["error"] = outcome.error[:2000]
    _announce(task, ctx, kind, datetime.now(UTC), duration=time.perf_counter() - clock, error=outcome.error)
    return outcome


def _announce(task: Task[Any], ctx: TaskContext, kind: JobEventKind, at: datetime, **details: Any) -> None:
    if job_event.receivers:
        job_event.send(
            JobEvent(kind, task.name, ctx.job_id, at, attempt=ctx.attempt, max_attempts=ctx.max_attempts, **details)
        )


async def _attempt(task: Task[Any], ctx: TaskContext, payload: dict[str, Any]) -> Outcome:
    try:
        kwargs = task.arguments.load(payload)
    except Exception as exc:  # the function changed since the job was queued: retrying cannot help
        return _failed(task, ctx, exc, retry=False)
    deadline = asyncio.timeout(task.timeout)
    try:
        # A scope of its own, even when an inline job runs inside the request that queued it.
        with permission_scope(inherit=False):
            async with deadline:
                value = await task.func(ctx, **kwargs)
    except TimeoutError as exc:
        if not deadline.expired():  # the function's own TimeoutError
            return _failed(task, ctx, exc, retry=True)
        return _failed(task, ctx, TimeoutError(f"timed out after {task.timeout:g} s"), retry=True, cause=exc)
    except Exception as exc:
        return _failed(task, ctx, exc, retry=True)
    try:
        result = task.arguments.dump_result(value)
    except Exception as exc:  # the work is done; running it again would repeat its effects
        return _failed(task, ctx, exc, retry=False)
    return Outcome(ok=True, result=result)


def _failed(
    task: Task[Any], ctx: TaskContext, exc: BaseException, *, retry: bool, cause: BaseException | None = None
) -> Outcome:
    error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if retry and ctx.attempt < ctx.max_attempts:
        delay = task.retry_delay(ctx.attempt)
        logger.warning(
            "task %s job %s attempt %d/%d failed, retrying in %.2f s: %s",
            task.name,
            ctx.job_id,
            ctx.attempt,
            ctx.max_attempts,
            delay,
            error,
            extra={"task": task.name, "job_id": ctx.job_id},
        )
        return Outcome(ok=False, error=error, retry_in=delay, exception=exc)
    logger.error(
        "task %s job %s failed (attempt %d/%d): %s",
        task.name,
        ctx.job_id,
        ctx.attempt,
        ctx.max_attempts,
        error,
        exc_info=cause or exc,
        extra={"task": task.name, "job_id": ctx.job_id},
    )
    return Outcome(ok=False, error=error, exception=exc)
