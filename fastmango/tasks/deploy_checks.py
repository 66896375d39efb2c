"""Deploy checks of the tasks layer (``fastmango check --deploy``): tasks that would run inside the web processes
(fastmango.W941), tasks queued for workers that are not there (W942), a queue whose workers cannot be looked for
(W943).

W942 reads the workers' heartbeats (:mod:`fastmango.tasks.heartbeat`) in Redis, so it runs in the ``database``
scope, with the checks that do I/O.
"""

from __future__ import annotations

from typing import Any

from fastmango.core.errors import ImproperlyConfigured
from fastmango.core.system_checks import CheckContext, Finding, register
from fastmango.tasks.backends import backend_name
from fastmango.tasks.definition import Task, registered_tasks


def project_tasks() -> list[Task[Any]]:
    """The tasks the project declares (fastmango's own, such as the alerts' delivery, are not its work)."""
    return [task for task in registered_tasks() if not task.func.__module__.startswith("fastmango.")]


def _names() -> str:
    names = sorted(task.name for task in project_tasks())
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


@register("deploy", deploy=True)
def check_inline_backend(context: CheckContext) -> list[Finding]:
    """W941: the project declares tasks and the inline backend would run them in the web processes."""
    try:
        inline = backend_name(context.settings) == "inline"
    except ImproperlyConfigured:
        return []  # the app refuses to start on it: E000 says why
    if not inline or not project_tasks():
        return []
    return [
        Finding(
            "fastmango.W941",
            "warning",
            f"the tasks ({_names()}) would run inside the web processes (the inline backend): a deploy or a crash "
            "loses the queued jobs, a long job slows the requests of its process, and each web process fires "
            "the cron schedules",
            hint="set REDIS_URL (the arq backend) and run workers: fastmango worker",
            obj="task_backend",
        )
    ]


@register("deploy", scope="database", deploy=True)
async def check_live_workers(context: CheckContext) -> list[Finding]:
    """W942: the project declares tasks, the arq backend queues them, and no worker's heartbeat is fresh;
    W943: Redis cannot be reached to look."""
    settings = context.settings
    try:
        arq = backend_name(settings) == "arq"
    except ImproperlyConfigured:
        return []
    if not arq or not project_tasks():
        return []
    from fastmango.tasks.arq_backend import ArqBackend
    from fastmango.tasks.errors import TaskQueueUnavailable

    backend = ArqBackend(settings)  # its own pool: the app's is left alone
    try:
        workers = await backend.workers()
    except TaskQueueUnavailable as exc:
        return [
            Finding(
                "fastmango.W943",
                "warning",
                f"could not look for the workers of the queue {backend.queue!r}: {exc}",
                hint="run fastmango check --deploy where the production Redis is reachable (or start Redis)",
                obj="REDIS_URL",
            )
        ]
    finally:
        await backend.close()
    if workers:
        return []
    return [
        Finding(
            "fastmango.W942",
            "warning",
            f"no worker takes jobs from the queue {backend.queue!r} (no live heartbeat): the tasks ({_names()}) "
            "would wait in Redis, and their cron schedules would not fire",
            hint="run at least one worker process with the same settings: fastmango worker",
            obj=backend.queue,
        )
    ]
