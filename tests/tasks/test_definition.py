"""``@task``: what a task function may look like, argument checks at enqueue time, and the registry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

import fastmango
from fastmango import TaskContext, task
from fastmango.core.errors import ImproperlyConfigured
from fastmango.tasks import Task, TaskArgumentError, backends
from fastmango.tasks.definition import get_task, register, registered_tasks


@pytest.fixture
def no_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(backends, "_backend", None)
    yield


@task(name="d_send")
async def send(ctx: TaskContext, user_id: int, subject: str = "Welcome", when: datetime | None = None) -> None:
    pass


def test_the_decorator_is_exported_at_the_top_level() -> None:
    assert fastmango.task is fastmango.tasks.task
    assert fastmango.TaskContext is fastmango.tasks.TaskContext


def test_a_decorated_function_is_a_registered_task() -> None:
    @task
    async def bare(ctx: TaskContext) -> int:
        """Docs stay."""
        return 1

    assert isinstance(bare, Task)
    assert bare.name == "bare" and get_task("bare") is bare
    assert bare.__doc__ == "Docs stay."
    assert (bare.retries, bare.timeout, bare.schedule) == (0, 300.0, None)
    assert bare in registered_tasks()


async def test_calling_a_task_runs_the_function_directly() -> None:
    @task(name="d_direct")
    async def direct(ctx: TaskContext, n: int) -> int:
        return n * 2

    assert await direct(None, 21) == 42  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"user_id": "ada"}, r"user_id: Input should be a valid integer.*\(got 'ada'\)"),
        ({}, "user_id: missing required argument"),
        ({"user_id": 1, "sender": "x"}, "sender: unexpected argument"),
        ({"user_id": 1, "when": "yesterday"}, "when: Input should be a valid datetime"),
    ],
)
async def test_bad_arguments_fail_at_enqueue_naming_the_argument(
    no_backend: None, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(TaskArgumentError, match=message) as caught:
        await send.enqueue(**arguments)
    assert caught.value.task == "d_send"
    assert isinstance(caught.value, ValueError)


async def test_positional_arguments_are_checked_too(no_backend: None) -> None:
    with pytest.raises(TaskArgumentError, match="takes 3 argument"):
        await send.enqueue(1, "a", None, "extra")
    with pytest.raises(TaskArgumentError, match="user_id: given both by position and by name"):
        await send.enqueue(1, user_id=2)
    with pytest.raises(TaskArgumentError, match="_defer_by or _defer_until, not both"):
        await send.enqueue(1, _defer_by=1, _defer_until=datetime(2030, 1, 1))


async def test_enqueue_without_a_backend_says_how_to_get_one(no_backend: None) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"fastmango.setup\(\)"):
        await send.enqueue(user_id=1)


def test_arguments_are_dumped_as_json() -> None:
    payload = send.arguments.dump((7,), {"when": datetime(2024, 1, 2, 3, 4, 5)})
    assert payload == {"user_id": 7, "when": "2024-01-02T03:04:05"}
    assert send.arguments.load(payload) == {"user_id": 7, "when": datetime(2024, 1, 2, 3, 4, 5)}


def test_a_task_function_must_be_async() -> None:
    def sync(ctx: TaskContext) -> None:
        pass

    with pytest.raises(ImproperlyConfigured, match="must be an async function"):
        task(sync)  # type: ignore[arg-type]


def test_a_task_function_takes_the_context_first() -> None:
    async def no_parameters() -> None:
        pass

    with pytest.raises(ImproperlyConfigured, match="takes the TaskContext as its first parameter"):
        task(no_parameters)


def test_star_arguments_are_refused() -> None:
    async def star(ctx: TaskContext, *ids: int) -> None:
        pass

    with pytest.raises(ImproperlyConfigured, match=r"\*args are not supported \(ids\)"):
        task(star)


class Connection:
    """Not something pydantic can validate or JSON can carry."""


def test_arguments_that_cannot_travel_as_json_are_refused_at_decoration() -> None:
    async def uses(ctx: TaskContext, conn: Connection) -> None:
        pass

    with pytest.raises(ImproperlyConfigured, match="must be JSON-serializable"):
        task(uses)


def test_a_cron_task_cannot_have_required_arguments() -> None:
    async def report(ctx: TaskContext, day: str) -> None:
        pass

    with pytest.raises(ImproperlyConfigured, match=r"runs on a schedule.*\(day\)"):
        task(cron="0 0 * * *")(report)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"retries": -1}, "retries must be 0 or more"), ({"timeout": 0}, "timeout must be positive")],
)
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    async def job(ctx: TaskContext) -> None:
        pass

    with pytest.raises(ImproperlyConfigured, match=message):
        task(**options)(job)


def test_two_functions_cannot_share_a_name() -> None:
    async def one(ctx: TaskContext) -> None:
        pass

    async def other(ctx: TaskContext) -> None:
        pass

    task(name="d_shared")(one)
    task(name="d_shared")(one)  # the same function again (a module imported twice) is fine
    with pytest.raises(ImproperlyConfigured, match=r"two tasks are named 'd_shared'.*pass name="):
        register(Task(other, name="d_shared"))


def test_retry_delays_double_from_the_backoff() -> None:
    async def job(ctx: TaskContext) -> None:
        pass

    flaky = Task(job, retries=5, backoff=1.5)
    assert [flaky.retry_delay(n) for n in (1, 2, 3)] == [1.5, 3.0, 6.0]
    assert Task(job, backoff=10).retry_delay(20) == 3600
