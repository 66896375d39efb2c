"""The arq adapter: the only module that imports ``arq`` (and, through it, ``redis``).

Jobs travel as JSON (arq's ``job_serializer``/``job_deserializer``), never pickle: the arguments are the
JSON dict ``Task.enqueue`` validated, passed as the job's single argument. Job history lives next to the
queue in Redis: ``<queue>:history:job:<id>`` holds a record (JSON, expiring after ``history_ttl``) and the
sorted set ``<queue>:history:recent:<task>`` the newest ``history_size`` job ids of each task.

Redis down or hung: each command of the app's pool gives up after ``redis_socket_timeout`` seconds, and enqueueing
or reading the history raises :class:`~fastmango.tasks.errors.TaskQueueUnavailable` (a 503 with ``Retry-After`` in
a request). After a failure the backend does not try Redis again for a few seconds, so requests meanwhile answer at
once instead of each waiting the timeout; the outage and the recovery are logged once each.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import orjson

from fastmango.core.errors import ImproperlyConfigured
from fastmango.core.lazy import require
from fastmango.core.redis import RedisOutage, redis_errors
from fastmango.core.settings import Settings, mask_url
from fastmango.tasks.backends import Backend
from fastmango.tasks.context import TaskContext
from fastmango.tasks.cron import CronSchedule
from fastmango.tasks.definition import Task
from fastmango.tasks.errors import TaskError, TaskFailed, TaskQueueUnavailable, UnknownTask
from fastmango.tasks.heartbeat import Heartbeat, WorkerInfo, current_worker, live_workers
from fastmango.tasks.history import DEFAULT_HISTORY_SIZE, History
from fastmango.tasks.jobs import JobInfo, JobState
from fastmango.tasks.runner import run_attempt

require("arq", extra="tasks")  # without arq: MissingDependency naming pip install "fastmango[tasks]"

from arq.connections import ArqRedis, RedisSettings  # noqa: E402
from arq.constants import in_progress_key_prefix, job_key_prefix, retry_key_prefix  # noqa: E402
from arq.cron import CronJob, cron  # noqa: E402
from arq.worker import Function, Retry, Worker, func  # noqa: E402
from redis.asyncio import ConnectionPool  # noqa: E402
from redis.exceptions import WatchError  # noqa: E402

if TYPE_CHECKING:
    from arq.typing import StartupShutdown, WorkerCoroutine

logger = logging.getLogger("fastmango.tasks")

DEFAULT_HISTORY_TTL = timedelta(days=7)
#: Seconds the record of a job being enqueued lives until the job is in the queue (then ``history_ttl``).
PROVISIONAL_RECORD_TTL = 60
#: arq's own limit on an attempt is ours plus this margin, so that our timeout (a retryable failure) fires first.
TIMEOUT_MARGIN = 10.0
NO_TIMEOUT = 86400.0


def serialize(data: dict[str, Any]) -> bytes:
    """arq's ``job_serializer``: JSON; an exception (a failed job's result) becomes ``"Name: message"``."""
    return orjson.dumps(data, default=_json_default)


def deserialize(raw: bytes) -> dict[str, Any]:
    """arq's ``job_deserializer``."""
    data: dict[str, Any] = orjson.loads(raw)
    return data


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}" if str(value) else type(value).__name__
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class RedisHistory(History):
    """Job records in Redis, bounded per task and expiring."""

    def __init__(
        self,
        redis: Callable[[], Awaitable[ArqRedis]],
        prefix: str,
        size: int,
        ttl: timedelta = DEFAULT_HISTORY_TTL,
        guard: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self._redis = redis
        self.prefix = prefix
        self.size = size
        self.ttl = int(ttl.total_seconds())
        self._guard = guard  # turns Redis failures into TaskQueueUnavailable (ArqBackend.available)

    def _job_key(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}"

    def _recent_key(self, task: str) -> str:
        return f"{self.prefix}:recent:{task}"

    @property
    def _tasks_key(self) -> str:
        return f"{self.prefix}:tasks"

    async def save(self, info: JobInfo, ttl: int | None = None) -> None:
        """Write the record (expiring after ``ttl`` seconds, default ``history_ttl``) and index it."""
        with self._guard():
            await self._save(info, ttl)

    async def keep(self, info: JobInfo) -> None:
        """Let a record saved with a short ``ttl`` live the whole ``history_ttl``."""
        with self._guard():
            await (await self._redis()).expire(self._job_key(info.id), self.ttl)

    async def _save(self, info: JobInfo, ttl: int | None = None) -> None:
        redis = await self._redis()
        recent = self._recent_key(info.task)
        async with redis.pipeline(transaction=True) as pipe:
            pipe.set(self._job_key(info.id), info.model_dump_json(), ex=ttl or self.ttl)
            pipe.zadd(recent, {info.id: info.enqueued_at.timestamp()})
            pipe.expire(recent, self.ttl)
            pipe.sadd(self._tasks_key, info.task)
            pipe.expire(self._tasks_key, self.ttl)
            pipe.zcard(recent)
            *_, count = await pipe.execute()
        if count > self.size:
            dropped = await redis.zpopmin(recent, count - self.size)
            if dropped:
                await redis.delete(*(self._job_key(_text(member)) for member, _ in dropped))

    async def start(self, info: JobInfo) -> JobInfo:
        """Write the record of a starting job in one round trip; return it with the exact enqueue time.

        The record written at enqueue time is replaced (``SET ... GET``); its enqueue time is kept, since arq's
        has only millisecond precision. A job that has no record (a cron run) is also indexed.
        """
        with self._guard():
            redis = await self._redis()
            old = await redis.set(self._job_key(info.id), info.model_dump_json(), ex=self.ttl, get=True)
            if old is None:
                await self._save(info)
                return info
        return info.model_copy(update={"enqueued_at": JobInfo.model_validate_json(old).enqueued_at})

    async def update(self, info: JobInfo) -> None:
        """Replace the record of an indexed job (one command)."""
        with self._guard():
            await (await self._redis()).set(self._job_key(info.id), info.model_dump_json(), ex=self.ttl)

    async def discard(self, info: JobInfo) -> None:
        """Forget a job (its enqueue failed)."""
        with self._guard():
            redis = await self._redis()
            async with redis.pipeline(transaction=True) as pipe:
                pipe.delete(self._job_key(info.id))
                pipe.zrem(self._recent_key(info.task), info.id)
                await pipe.execute()

    async def get(self, job_id: str) -> JobInfo | None:
        with self._guard():
            raw = await (await self._redis()).get(self._job_key(job_id))
        return None if raw is None else JobInfo.model_validate_json(raw)

    async def task_names(self) -> set[str]:
        with self._guard():
            redis = await self._redis()
            return {_text(name) for name in await redis.smembers(self._tasks_key)}  # type: ignore[misc]

    async def records(self, task: str | None = None) -> list[JobInfo]:
        names = [task] if task is not None else sorted(await self.task_names())
        found: list[JobInfo] = []
        with self._guard():
            redis = await self._redis()
            for name in names:
                ids = await redis.zrange(self._recent_key(name), 0, -1)
                if not ids:
                    continue
                for raw in await redis.mget([self._job_key(_text(i)) for i in ids]):
                    if raw is not None:
                        found.append(JobInfo.model_validate_json(raw))
        return found


class ArqBackend(Backend):
    """Queues jobs in Redis for ``fastmango worker`` processes (arq workers) to run.

    Connects on first use (or in the app's start-up); :meth:`create_worker` builds a worker for a list of tasks.
    """

    name = "arq"

    def __init__(
        self,
        settings: Settings,
        *,
        history_size: int = DEFAULT_HISTORY_SIZE,
        history_ttl: timedelta = DEFAULT_HISTORY_TTL,
    ) -> None:
        if not settings.redis_url:
            raise ImproperlyConfigured("the arq task backend needs REDIS_URL")
        self.settings = settings
        self.queue = settings.task_queue_name
        self.url = settings.redis_url
        try:
            self.redis_settings = RedisSettings.from_dsn(self.url)
        except (RuntimeError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"REDIS_URL {mask_url(self.url)!r} is not a Redis URL (redis://host:6379/0): {exc}"
            ) from exc
        self.socket_timeout = settings.redis_socket_timeout
        #: Seconds the record of a job being enqueued lives until the job is in the queue.
        self.provisional_ttl = PROVISIONAL_RECORD_TTL
        self.outage = RedisOutage("enqueueing and the task status API answer 503 until it is back")
        self._pool: ArqRedis | None = None
        self._lock: asyncio.Lock | None = None
        self.history: RedisHistory = RedisHistory(
            self.redis, f"{self.queue}:history", history_size, history_ttl, guard=self.available
        )

    @contextlib.contextmanager
    def available(self) -> Iterator[None]:
        """Around Redis commands: a Redis failure raises :class:`TaskQueueUnavailable` (and is remembered, so that
        for a few seconds the next callers get it at once instead of waiting for Redis again)."""
        if self.outage.down():
            raise TaskQueueUnavailable(self._unreachable("it failed a moment ago"))
        try:
            yield
        except TaskQueueUnavailable as exc:
            if isinstance(exc.__cause__, redis_errors()):  # redis() could not connect
                self.outage.failed(exc.__cause__)
            raise
        except redis_errors() as exc:
            self.outage.failed(exc)
            raise TaskQueueUnavailable(self._unreachable(str(exc) or type(exc).__name__)) from exc
        self.outage.succeeded()

    def _unreachable(self, why: str) -> str:
        return f"cannot reach Redis at {mask_url(self.url)} for the task queue ({why}); start Redis or check REDIS_URL"

    async def redis(self, *, retries: int = 0) -> ArqRedis:
        """The connection pool, opened on first use. Its commands give up after ``redis_socket_timeout`` seconds.

        Args:
            retries: Connection attempts after a failed first one, a second apart, each logged as a warning
                (default: none, a request must not wait for Redis to come back).

        Raises:
            TaskQueueUnavailable: Redis cannot be reached; the message names the URL (password masked).
        """
        if self._pool is not None:
            return self._pool
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._pool is None:
                try:
                    self._pool = await self._connect(retries)
                except redis_errors() as exc:
                    raise TaskQueueUnavailable(self._unreachable(str(exc) or type(exc).__name__)) from exc
            return self._pool

    def _new_pool(self) -> ArqRedis:
        """A pool (not connected yet) whose connects and commands give up after ``redis_socket_timeout`` seconds.

        arq's ``create_pool`` sets no socket timeout: a command to a hung Redis would wait for ever.
        """
        timeout = self.socket_timeout
        return ArqRedis(
            ConnectionPool.from_url(self.url, socket_timeout=timeout, socket_connect_timeout=timeout),
            job_serializer=serialize,
            job_deserializer=deserialize,
            default_queue_name=self.queue,
        )

    async def _connect(self, retries: int) -> ArqRedis:
        attempt = 0
        while True:
            pool = self._new_pool()
            try:
                await pool.ping()
                return pool
            except redis_errors() as exc:
                await pool.aclose(close_connection_pool=True)
                if attempt >= retries:
                    raise
                attempt += 1
                logger.warning(
                    "cannot reach Redis at %s (%s); retry %d of %d", mask_url(self.url), exc, attempt, retries
                )
                await asyncio.sleep(1)

    async def start(self) -> None:
        """Connect to Redis; while it is unreachable the app starts all the same (logged once; enqueueing answers
        503 until Redis is back)."""
        with contextlib.suppress(TaskQueueUnavailable), self.available():
            await self.redis()

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose(close_connection_pool=True)

    async def enqueue(self, task: Task[Any], job_id: str, payload: dict[str, Any], run_at: datetime | None) -> None:
        info = JobInfo.queued(task, job_id, payload, run_at)
        # The record goes first: a fast worker could otherwise finish the job before "queued" is written over it.
        # It expires soon until the job is queued: a hung Redis may still write it after this enqueue gave up
        # (503), when the record can no longer be discarded, and a job that was never queued must not stay listed.
        await self.history.save(info, ttl=self.provisional_ttl)
        try:
            with self.available():
                job = await (await self.redis()).enqueue_job(
                    task.name, payload, _job_id=job_id, _queue_name=self.queue, _defer_until=run_at
                )
        except BaseException:
            with contextlib.suppress(Exception):
                await self.history.discard(info)
            raise
        if job is None:
            raise TaskError(f"a job with the id {job_id} is already queued")
        # The job is queued whatever happens now; a worker writes the record again (to last) when it starts it.
        with contextlib.suppress(TaskQueueUnavailable):
            await self.history.keep(info)

    async def _dequeue(self, info: JobInfo) -> bool:
        # A worker marks a job in progress (WATCH on that key, then MULTI) before it reads the job: either the
        # worker's mark comes first and this transaction fails, or the job is gone when the worker reads it.
        in_progress = in_progress_key_prefix + info.id
        with self.available():
            redis = await self.redis()
            async with redis.pipeline(transaction=True) as pipe:
                await pipe.watch(in_progress)
                if await pipe.exists(in_progress):
                    return False
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.zrem(self.queue, info.id)
                pipe.delete(job_key_prefix + info.id, retry_key_prefix + info.id)
                try:
                    removed, _ = await pipe.execute()
                except WatchError:
                    return False
        return bool(removed)

    async def workers(self) -> list[WorkerInfo]:
        """The workers of this queue whose heartbeat is fresh (see :mod:`fastmango.tasks.heartbeat`).

        Raises:
            TaskQueueUnavailable: Redis cannot be reached.
        """
        with self.available():
            return await live_workers(await self.redis(), self.queue)

    def create_worker(
        self,
        tasks: Sequence[Task[Any]],
        *,
        concurrency: int = 10,
        poll_delay: float = 0.1,
        burst: bool = False,
        grace: int = 30,
        handle_signals: bool = True,
        on_startup: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
        on_shutdown: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    ) -> Worker:
        """An arq ``Worker`` running ``tasks`` (and the schedules of cron tasks) from this backend's queue.

        Call it inside the event loop that will run the worker (``await worker.async_run()``). Its Redis commands
        give up after ``redis_socket_timeout`` seconds; while Redis is down or hung it takes no job and keeps
        running (one warning per outage), and picks jobs up again when Redis is back.

        Args:
            tasks: The tasks it runs; jobs of any other task fail with ``UnknownTask`` (and it keeps going).
            concurrency: Jobs run at once.
            poll_delay: Seconds between two looks at the queue.
            burst: Stop once the queue is empty.
            grace: On SIGTERM/SIGINT, seconds to let running jobs finish before they are cancelled and re-queued.
            handle_signals: Install the SIGTERM/SIGINT handlers.
            on_startup: Awaited before the first job (the CLI starts the app's plugins there).
            on_shutdown: Awaited after the last job.

        Raises:
            ImproperlyConfigured: ``tasks`` is empty.
        """
        if not tasks:
            raise ImproperlyConfigured(
                "no tasks to run: define @fastmango.task functions in your project's tasks.py (<package>/tasks.py)"
            )
        worker = _Worker(
            functions=[self._function(t) for t in tasks if t.schedule is None],
            cron_jobs=[self._cron_job(t) for t in tasks if t.schedule is not None],
            queue_name=self.queue,
            redis_settings=self.redis_settings,
            redis_pool=self._new_pool(),  # with the socket timeout (arq's own pool has none)
            burst=burst,
            on_startup=cast("StartupShutdown | None", on_startup),
            on_shutdown=cast("StartupShutdown | None", on_shutdown),
            handle_signals=handle_signals,
            job_completion_wait=grace,
            max_jobs=concurrency,
            poll_delay=poll_delay,
            job_serializer=serialize,
            job_deserializer=deserialize,
            keep_result=0,  # results and errors live in the job history; arq's copy would be a second one
            timezone=UTC,
        )
        worker.functions = _Functions(worker.functions, self)
        worker.heartbeat = Heartbeat(
            self.queue, self.settings.task_heartbeat_seconds, [t.name for t in tasks], counts=worker.counts
        )
        return worker

    def _coroutine(self, task: Task[Any]) -> WorkerCoroutine:
        async def run(ctx: dict[str, Any], payload: dict[str, Any] | None = None) -> Any:
            return await self._run_job(task, ctx, payload or {})

        run.__qualname__ = run.__name__ = task.name
        return cast("WorkerCoroutine", run)

    def _function(self, task: Task[Any]) -> Function:
        return func(self._coroutine(task), name=task.name, timeout=_arq_timeout(task), max_tries=task.max_attempts)

    def _cron_job(self, task: Task[Any]) -> CronJob:
        base = cron(self._coroutine(task), name=task.name, timeout=_arq_timeout(task), max_tries=task.max_attempts)
        values = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
        return _ScheduledJob(**values, schedule=task.schedule)

    async def _run_job(self, task: Task[Any], job: dict[str, Any], payload: dict[str, Any]) -> Any:
        job_id: str = job["job_id"]
        attempt: int = job["job_try"]
        info = JobInfo(
            id=job_id,
            task=task.name,
            state=JobState.in_progress,
            attempt=attempt,
            max_attempts=task.max_attempts,
            args=payload,
            enqueued_at=_utc(job["enqueue_time"]),
            run_at=datetime.fromtimestamp(job["score"] / 1000, UTC),
            started_at=datetime.now(UTC),
        )
        info = await self.history.start(info)
        ctx = TaskContext(job_id, task.name, attempt, task.max_attempts, self.settings, info.enqueued_at)
        try:
            outcome = await run_attempt(task, ctx, payload)
        except asyncio.CancelledError:
            # The worker is stopping: arq puts the job back in the queue. This attempt does not count.
            with contextlib.suppress(Exception):
                await job["redis"].decr(retry_key_prefix + job_id)
                await self.history.update(
                    info.model_copy(update={"state": JobState.queued, "attempt": attempt - 1, "started_at": None})
                )
            logger.info("task %s job %s interrupted by the worker's shutdown; re-queued", task.name, job_id)
            raise
        finished = {"finished_at": datetime.now(UTC), "error": outcome.error}
        if outcome.ok:
            await self.history.update(
                info.model_copy(update={**finished, "state": JobState.complete, "result": outcome.result})
            )
            return outcome.result
        if outcome.retry_in is not None:
            await self.history.update(info.model_copy(update={**finished, "state": JobState.retried}))
            raise Retry(defer=outcome.retry_in)
        await self.history.update(info.model_copy(update={**finished, "state": JobState.failed}))
        raise TaskFailed(job_id, task.name, outcome.error) from None


async def stop_worker(worker: Worker) -> None:
    """Stop ``worker`` and close its connections; jobs still running are cancelled (arq re-queues them).

    arq's ``Worker.close`` raises ``CancelledError`` when a job was cancelled while it was being finished;
    here every job task is awaited first, whatever its end. It also closes the Redis pool with ``close()``,
    which redis-py deprecates (a ``DeprecationWarning`` at every stop): its steps are taken here, with
    ``aclose()``.

    A job already cancelled (by arq's signal handler) is not cancelled again: it is waiting for its
    function to re-queue it (``_run_job``), and a second cancel would end that wait before the re-queue is
    written, so the job would stay "in progress" with its attempt counted.
    """
    for job in worker.tasks.values():
        if not job.done() and not job.cancelling():
            job.cancel()
    if worker.main_task is not None:
        worker.main_task.cancel()
    # The poll loop ends too: a connection it holds mid-command goes back to the pool before the pool closes.
    main = [worker.main_task] if worker.main_task is not None else []
    functions = list(getattr(worker, "job_tasks", {}).values())  # each ends after its re-queue bookkeeping
    await asyncio.gather(*worker.tasks.values(), *functions, *main, return_exceptions=True)
    worker.tasks.clear()
    if not hasattr(worker, "_pool"):  # an arq whose internals changed: its own close, warning or not
        await worker.close()
        return
    pool = worker._pool
    if pool is None:  # never started, or already stopped
        return
    with contextlib.suppress(*redis_errors()):  # Redis down: the health and heartbeat keys expire by themselves
        await pool.delete(worker.health_check_key)
        if isinstance(worker, _Worker) and worker.heartbeat is not None:
            await worker.heartbeat.remove(pool)
    if worker.on_shutdown:
        await worker.on_shutdown(worker.ctx)
    await pool.aclose(close_connection_pool=True)
    worker._pool = None


#: Seconds a worker that met a Redis failure waits before it polls Redis again.
WORKER_RETRY_SECONDS = 2.0


class _Worker(Worker):
    """arq's ``Worker``, which outlives a Redis outage.

    arq's poll loop lets a Redis error end the worker (a Redis restart stopped every worker). Here a poll that
    fails is skipped: the outage is logged once, Redis is polled again every ``WORKER_RETRY_SECONDS``, and jobs
    are picked up again once it answers. A job whose end could not be written is run again by arq (its
    in-progress key expires), as after a worker crash.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outage = RedisOutage("the task worker takes no job until it is back", retry_seconds=WORKER_RETRY_SECONDS)
        self.heartbeat: Heartbeat | None = None

    def counts(self) -> dict[str, int]:
        """The job counts its heartbeat reports."""
        return {
            "jobs_running": sum(not t.done() for t in self.tasks.values()),
            "jobs_complete": self.jobs_complete,
            "jobs_failed": self.jobs_failed,
            "jobs_retried": self.jobs_retried,
        }

    async def main(self) -> None:
        """arq's main loop, with the heartbeat beside it; the jobs it starts know the worker's id (job events)."""
        if self.heartbeat is None:
            return await super().main()
        current_worker.set(self.heartbeat.id)
        assert self._pool is not None  # create_worker gives it its pool
        beat = asyncio.create_task(self.heartbeat.run(self._pool), name=f"fastmango-heartbeat:{self.heartbeat.id}")
        try:
            await super().main()
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)

    async def _poll_iteration(self) -> None:
        if self.outage.down():
            return
        try:
            await super()._poll_iteration()
        except redis_errors() as exc:
            _raise_if_cancelled()
            self.outage.failed(exc)
        else:
            self.outage.succeeded()
        _raise_if_cancelled()


def _raise_if_cancelled() -> None:
    """Deliver a cancellation of this task that a Redis command swallowed.

    With a socket timeout redis-py reads under ``asyncio.timeout``; there a ``cancel()`` of the worker being
    stopped was seen lost (the worker went on polling and its stop waited for ever, in about one run of the
    arq tests in two). ``Task.cancelling()`` still counts the request.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


@dataclasses.dataclass
class _ScheduledJob(CronJob):
    """An arq cron job whose next run comes from fastmango's :class:`CronSchedule` (the same on both backends)."""

    schedule: CronSchedule | None = None

    def calculate_next(self, prev_run: datetime) -> None:
        assert self.schedule is not None
        self.next_run = self.schedule.next_after(prev_run)


class _Functions(dict[str, Any]):
    """The worker's function table: a job naming an unknown task fails (logged), the worker keeps going."""

    def __init__(self, functions: dict[str, Any], backend: ArqBackend) -> None:
        super().__init__(functions)
        self.backend = backend

    def __missing__(self, name: str) -> Function:
        known = ", ".join(sorted(self)) or "none"

        async def unknown(ctx: dict[str, Any], payload: dict[str, Any] | None = None) -> None:
            error = f"UnknownTask: this worker has no task named {name!r} (it knows {known})"
            logger.error(
                "job %s names the task %r, which this worker does not know; is it defined in the project's "
                "tasks.py, and does this worker run the current code? Known tasks: %s",
                ctx["job_id"],
                name,
                known,
            )
            now = datetime.now(UTC)
            await self.backend.history.save(
                JobInfo(
                    id=ctx["job_id"],
                    task=name,
                    state=JobState.failed,
                    attempt=ctx["job_try"],
                    args=payload or {},
                    enqueued_at=_utc(ctx["enqueue_time"]),
                    run_at=datetime.fromtimestamp(ctx["score"] / 1000, UTC),
                    started_at=now,
                    finished_at=now,
                    error=error,
                )
            )
            raise UnknownTask(error)

        unknown.__qualname__ = unknown.__name__ = name
        return func(cast("WorkerCoroutine", unknown), name=name, max_tries=1)


def _arq_timeout(task: Task[Any]) -> float:
    return NO_TIMEOUT if task.timeout is None else task.timeout + TIMEOUT_MARGIN


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
