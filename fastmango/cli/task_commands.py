"""Task commands: ``worker`` (run the project's tasks from the arq queue) and ``tasks list`` (jobs by state)."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

import typer

from fastmango.cli.main import app, fail

if TYPE_CHECKING:
    from fastmango.tasks import JobInfo, Task

tasks_app = typer.Typer(
    name="tasks", help="Background tasks: registered tasks and their recent jobs.", no_args_is_help=True
)
app.add_typer(tasks_app)


@app.command()
def worker(
    concurrency: int = typer.Option(10, "--concurrency", "-c", min=1, help="Jobs run at once."),
    burst: bool = typer.Option(False, "--burst", help="Stop once the queue is empty."),
    grace: int = typer.Option(
        30, "--grace", min=0, help="On SIGTERM, seconds running jobs may take to finish before they are re-queued."
    ),
    poll_delay: float = typer.Option(0.1, "--poll-delay", min=0.001, help="Seconds between looks at the queue."),
) -> None:
    """Run the project's tasks and cron schedules from the Redis queue (needs REDIS_URL)."""
    from fastmango.tasks.worker import run_worker

    run_worker(concurrency=concurrency, poll_delay=poll_delay, burst=burst, grace=grace)


@tasks_app.command("list")
def list_tasks(
    task: str | None = typer.Option(None, "--task", "-t", help="Only this task's jobs."),
    state: str | None = typer.Option(None, "--state", "-s", help="queued, in_progress, retried, complete or failed."),
    limit: int = typer.Option(20, "--limit", "-n", min=0, help="Recent jobs to show."),
) -> None:
    """Print the registered tasks with their jobs counted by state, then the recent jobs."""
    import fastmango
    from fastmango.core.project import find_project
    from fastmango.tasks import JobState
    from fastmango.tasks.backends import get_backend
    from fastmango.tasks.definition import registered_tasks
    from fastmango.tasks.discovery import import_tasks

    wanted = None
    if state is not None:
        try:
            wanted = JobState(state)
        except ValueError:
            raise fail(f"unknown state {state!r}; use one of {', '.join(s.value for s in JobState)}") from None
    project = find_project()
    os.chdir(project.root)
    fastmango.setup()
    import_tasks(project.package)
    backend = get_backend()
    tasks = registered_tasks()
    if task is not None and task not in {t.name for t in tasks}:
        typer.echo(f"Warning: no task named {task!r} is registered in {project.package}", err=True)
    if backend.name == "inline":
        _print_tasks(tasks, {})
        typer.echo(
            "\nThe inline backend keeps job history in the memory of the app that runs the jobs; "
            "set REDIS_URL to use the arq backend, whose history this command can read (or see GET /tasks/jobs)."
        )
        return
    from fastmango.tasks.arq_backend import ArqBackend

    assert isinstance(backend, ArqBackend)

    async def read() -> tuple[dict[str, dict[str, int]], list[JobInfo]]:
        try:
            await backend.redis(retries=0)  # Redis down: one error line at once, not five retries and a traceback
            counts = await backend.history.stats({t.name for t in tasks})
            jobs = await backend.history.recent(task, wanted, limit) if limit else []
            return counts, jobs
        finally:
            await backend.close()

    counts, jobs = asyncio.run(read())
    typer.echo(f"Backend arq, queue {backend.queue}\n")
    _print_tasks(tasks, counts)
    if limit:
        typer.echo("")
        _print_jobs(jobs)


def _print_tasks(tasks: list[Task[Any]], counts: dict[str, dict[str, int]]) -> None:
    from fastmango.tasks.jobs import RECORDED_STATES

    states = [str(s) for s in RECORDED_STATES]
    names = sorted({t.name for t in tasks} | set(counts))
    by_name = {t.name: t for t in tasks}
    rows = [["task", "schedule", "retries", "timeout", *states]]
    for name in names:
        defined = by_name.get(name)
        schedule = str(defined.schedule) if defined and defined.schedule else "-"
        retries = str(defined.retries) if defined else "?"
        timeout = "?" if defined is None else "none" if defined.timeout is None else f"{defined.timeout:g}s"
        numbers = counts.get(name, {})
        rows.append([name, schedule, retries, timeout, *(str(numbers.get(s, 0)) if counts else "-" for s in states)])
    if len(rows) == 1:
        typer.echo("No tasks: define @fastmango.task functions in your project's tasks.py.")
        return
    _print_table(rows)


def _print_jobs(jobs: list[JobInfo]) -> None:
    if not jobs:
        typer.echo("No recent jobs.")
        return
    rows = [["job", "task", "state", "attempt", "enqueued (UTC)", "result / error"]]
    for job in jobs:
        outcome = job.error or ("" if job.result is None else repr(job.result))
        rows.append(
            [
                job.id,
                job.task,
                str(job.state),
                f"{job.attempt}/{job.max_attempts}",
                f"{job.enqueued_at:%Y-%m-%d %H:%M:%S}",
                outcome if len(outcome) <= 60 else outcome[:59] + "…",
            ]
        )
    _print_table(rows)


def _print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
