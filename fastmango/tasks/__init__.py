"""Background tasks: ``@task``, the inline and arq backends, the worker, cron schedules and job history.

```python
import fastmango

@fastmango.task(retries=3, timeout=60)
async def send_welcome(ctx: fastmango.TaskContext, user_id: int) -> None: ...

job = await send_welcome.enqueue(user_id=1)
await job.result(timeout=10)
```
"""

from fastmango.tasks.context import TaskContext
from fastmango.tasks.definition import Task, task
from fastmango.tasks.errors import (
    JobNotFound,
    TaskArgumentError,
    TaskError,
    TaskFailed,
    TaskQueueUnavailable,
    UnknownTask,
)
from fastmango.tasks.jobs import Job, JobInfo, JobState

__all__ = [
    "Job",
    "JobInfo",
    "JobNotFound",
    "JobState",
    "Task",
    "TaskArgumentError",
    "TaskContext",
    "TaskError",
    "TaskFailed",
    "TaskQueueUnavailable",
    "UnknownTask",
    "task",
]
