"""``fastmango worker``: run the project's tasks and cron schedules from the arq queue.

The worker loads the project as scripts do (``fastmango.setup()``), imports ``<package>.tasks``, and runs the
app's lifespan around its work, so the database (and every other plugin) is connected as in the app. On
SIGTERM or SIGINT it stops taking jobs, lets running ones finish for ``grace`` seconds, then cancels what is
left; arq puts cancelled jobs back in the queue for the next worker. Several workers can share a queue:
each job runs once, and each cron run is enqueued once (its job id is the task and the due time).
"""

from __future__ import annotations

import asyncio
import logging
import os
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from fastmango.core.errors import ImproperlyConfigured
from fastmango.tasks.backends import get_backend
from fastmango.tasks.definition import Task, registered_tasks
from fastmango.tasks.discovery import import_tasks

if TYPE_CHECKING:
    from fastmango.core.app import FastMango
    from fastmango.tasks.arq_backend import ArqBackend

logger = logging.getLogger("fastmango.tasks")


def load_worker_project() -> tuple[FastMango, ArqBackend, list[Task[Any]]]:
    """Find the project, load it with ``fastmango.setup()``, import its tasks; return the app, backend and tasks.

    Raises:
        ImproperlyConfigured: the settings select the inline backend (no ``REDIS_URL``).
    """
    import fastmango
    from fastmango.core.project import find_project

    project = find_project()
    os.chdir(project.root)
    app = fastmango.setup()
    import_tasks(project.package)
    backend = get_backend()
    if backend.name != "arq":
        raise ImproperlyConfigured(
            "the worker needs the arq backend: set REDIS_URL (without it, jobs run inside the app, inline)"
        )
    from fastmango.tasks.arq_backend import ArqBackend

    assert isinstance(backend, ArqBackend)
    return app, backend, registered_tasks()


async def serve(
    app: FastMango,
    backend: ArqBackend,
    tasks: list[Task[Any]],
    *,
    concurrency: int = 10,
    poll_delay: float = 0.1,
    burst: bool = False,
    grace: int = 30,
) -> None:
    """Run a worker until a signal stops it (or, with ``burst``, until the queue is empty).

    Raises:
        ImproperlyConfigured: Redis cannot be reached. The worker tries once and stops (a supervisor restarts
            it), rather than retrying for five seconds and ending in arq's traceback.
    """
    from fastmango.tasks.arq_backend import stop_worker

    stack = AsyncExitStack()

    async def on_startup(ctx: dict[str, Any]) -> None:
        await stack.enter_async_context(app.router.lifespan_context(app))

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await stack.aclose()

    worker = backend.create_worker(
        tasks,
        concurrency=concurrency,
        poll_delay=poll_delay,
        burst=burst,
        grace=grace,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
    )
    await backend.redis(retries=0)
    scheduled = [t.name for t in tasks if t.schedule is not None]
    logger.info(
        "worker on queue %s: %d task(s)%s",
        backend.queue,
        len(tasks),
        f", cron: {', '.join(scheduled)}" if scheduled else "",
    )
    try:
        await worker.async_run()
    except asyncio.CancelledError:  # a signal stopped the worker
        pass
    finally:
        await stop_worker(worker)


def run_worker(*, concurrency: int = 10, poll_delay: float = 0.1, burst: bool = False, grace: int = 30) -> None:
    """What ``fastmango worker`` does: load the project and serve its tasks until stopped."""
    app, backend, tasks = load_worker_project()
    asyncio.run(serve(app, backend, tasks, concurrency=concurrency, poll_delay=poll_delay, burst=burst, grace=grace))
