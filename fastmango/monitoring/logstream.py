"""The live log stream: log records as JSON, fanned out to the connected viewers of every process.

:class:`LogStreamHandler` (a ``logging.Handler`` on the root logger) turns each record into a small JSON-able dict
(:func:`serialize`, secrets masked) and hands it to :class:`LogStream` without blocking the logging call: from the
event loop's thread it is queued at once, from any other thread through ``loop.call_soon_threadsafe``.

Without Redis the stream fans each record out to this process's clients. With ``REDIS_URL`` a publisher task
publishes records on a pub/sub channel (and keeps the newest in a capped list for ``/logs/recent``) and a
subscriber task fans out what any process published. While Redis is down each process serves its own records,
tells its clients once (a ``status`` event) and reconnects every ``retry_seconds``.

Every client has a bounded queue: one that cannot keep up (its queue is full) is dropped, so a viewer that went
away without closing its connection (sse-starlette #173) costs a bounded amount of memory and then nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastmango.core.logging import request_id_var
from fastmango.db.hook import MASK, SECRET_MARKERS

if TYPE_CHECKING:
    from fastmango.core.settings import Settings

logger = logging.getLogger("fastmango.monitoring.logstream")

#: The level names a viewer may filter by, lowest first.
LEVELS: dict[str, int] = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
#: Characters of a message (and of an exception's message) kept; the rest is cut with an ellipsis.
MAX_MESSAGE = 16_000
HANDLER_NAME = "fastmango.logstream"

# Records logged by the stream's own tasks (redis-py, our Redis errors) are not streamed: they would feed
# themselves, a publish failure logging a record whose publication fails again.
_streaming: ContextVar[bool] = ContextVar("fastmango_logstream_internal", default=False)
_SKIPPED_LOGGERS = ("fastmango.monitoring.logstream", "sse_starlette")
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id", "color_message", "taskName"}
_SECRETS = "|".join(re.escape(marker) for marker in SECRET_MARKERS)
_SECRET_PAIR = re.compile(rf"(?i)\b([\w.-]*(?:{_SECRETS})[\w.-]*[\"']?\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&]+)")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]+")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]+@")


def mask_text(text: str) -> str:
    """``text`` with secret-looking values replaced by ``***``: of pairs (``password=...``, ``"token": "..."``),
    bearer credentials and URL passwords. The markers are the query hook's (:data:`fastmango.db.hook.SECRET_MARKERS`).
    """
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE] + "…"
    text = _SECRET_PAIR.sub(lambda match: match.group(1) + MASK, text)
    text = _BEARER.sub(lambda match: f"{match.group(1)} {MASK}", text)
    return _URL_PASSWORD.sub(rf"\g<1>{MASK}@", text)


def _secret(key: str) -> bool:
    lowered = key.lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return mask_text(value if isinstance(value, str) else repr(value))


def serialize(record: logging.LogRecord) -> dict[str, Any]:
    """The JSON-able form of ``record`` that the stream sends (see docs/monitoring.md, "Live logs")."""
    request_id = getattr(record, "request_id", None)
    if not request_id or request_id == "-":
        request_id = request_id_var.get()
    exception = None
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        exception = {"type": type(error).__qualname__, "message": mask_text(str(error))}
    extra = {
        key: MASK if _secret(key) else _plain(value)
        for key, value in record.__dict__.items()
        if key not in _RESERVED and not key.startswith("_")
    }
    return {
        "id": uuid.uuid4().hex[:16],
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
        "timestamp": record.created,
        "level": record.levelname,
        "levelno": record.levelno,
        "logger": record.name,
        "message": mask_text(record.getMessage()),
        "request_id": request_id,
        "exception": exception,
        "process": record.process,
        "extra": extra,
    }


def matches(entry: dict[str, Any], levelno: int = 0, logger: str | None = None, request_id: str | None = None) -> bool:
    """Whether ``entry`` is at ``levelno`` or above, from ``logger`` or one of its children, of ``request_id``."""
    if entry["levelno"] < levelno:
        return False
    if logger and entry["logger"] != logger and not entry["logger"].startswith(logger + "."):
        return False
    return request_id is None or entry["request_id"] == request_id


class LogStreamHandler(logging.Handler):
    """Hands every record to a :class:`LogStream`; never blocks and never raises into the logging call."""

    def __init__(self, stream: LogStream, level: int | str = logging.NOTSET) -> None:
        super().__init__(level)
        self.stream = stream
        self.set_name(HANDLER_NAME)

    def emit(self, record: logging.LogRecord) -> None:
        if _streaming.get() or record.name.startswith(_SKIPPED_LOGGERS):
            return
        try:
            entry = serialize(record)
        except Exception:
            self.handleError(record)
            return
        self.stream.submit(entry)


@dataclass(eq=False)
class LogClient:
    """One connected viewer: its filters and its bounded queue of ``(event, data)`` pairs."""

    levelno: int
    logger: str | None
    request_id: str | None
    queue: asyncio.Queue[tuple[str, dict[str, Any]]]
    dropped: bool = False
    connected_at: float = field(default_factory=time.time)

    def wants(self, entry: dict[str, Any]) -> bool:
        return matches(entry, self.levelno, self.logger, self.request_id)


class TooManyClients(Exception):
    """``logstream_max_clients`` viewers are connected to this process already."""


class LogStream:
    """The records of this process (and, with Redis, of every process) for the connected viewers.

    Args:
        redis_url: Fan out and keep history through this Redis; None: this process only.
        channel: The pub/sub channel's prefix; the Redis database number is appended (pub/sub ignores databases).
        level: The lowest level streamed (the root logger's level applies first).
        recent_size: Records kept for ``/logs/recent`` (in this process, and as a capped list in Redis).
        client_queue: Events a client may have waiting; a client whose queue is full is dropped.
        max_clients: Clients a process serves at once.
        retry_seconds: After a Redis failure, how long the stream serves this process only before trying again.
        socket_timeout: Seconds a Redis connect or command may take.
    """

    def __init__(
        self,
        *,
        redis_url: str | None = None,
        channel: str = "fastmango:logs",
        level: int | str = logging.INFO,
        recent_size: int = 500,
        client_queue: int = 1000,
        max_clients: int = 100,
        retry_seconds: float = 5.0,
        socket_timeout: float = 2.0,
    ) -> None:
        self.redis_url = redis_url
        database = (urlsplit(redis_url).path.strip("/") or "0") if redis_url else "0"
        self.channel = f"{channel}:db{database}"
        self.recent_key = f"{channel}:recent"
        self.level = logging._checkLevel(level)  # type: ignore[attr-defined]
        self.recent: deque[dict[str, Any]] = deque(maxlen=recent_size)
        self.recent_size = recent_size
        self.client_queue = client_queue
        self.max_clients = max_clients
        self.retry_seconds = retry_seconds
        self.socket_timeout = socket_timeout
        #: Records not published (the publisher's queue was full) and clients dropped for falling behind.
        self.lost = 0
        self.dropped_clients = 0
        self._clients: set[LogClient] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._outbox: asyncio.Queue[tuple[dict[str, Any], bool]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._redis: Any = None
        self._subscribed = False
        self._down_until = 0.0
        #: None without Redis; else whether it answered last time.
        self.redis_up: bool | None = None
        self.redis_error: str | None = None
        self.handler = LogStreamHandler(self, self.level)

    @classmethod
    def from_settings(cls, settings: Settings) -> LogStream:
        """The stream that ``settings`` describe (``logstream_*``, ``redis_url``, ``redis_socket_timeout``)."""
        return cls(
            redis_url=settings.redis_url,
            channel=settings.logstream_channel,
            level=settings.logstream_level,
            recent_size=settings.logstream_recent,
            client_queue=settings.logstream_client_queue,
            max_clients=settings.logstream_max_clients,
            retry_seconds=settings.logstream_retry_seconds,
            socket_timeout=getattr(settings, "redis_socket_timeout", 2.0),
        )

    @property
    def clients(self) -> int:
        """How many viewers this process serves now."""
        return len(self._clients)

    @property
    def fanout(self) -> str:
        """``redis`` while records travel through Redis, else ``process``."""
        return "redis" if self._redis is not None and self._subscribed and not self._publish_down() else "process"

    async def start(self) -> None:
        """Attach the handler to the root logger and start the Redis tasks (idempotent)."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._stopping = False
        if self.redis_url:
            from fastmango.core.redis import redis_client

            self._redis = redis_client(self.redis_url, socket_timeout=self.socket_timeout)
            self._outbox = asyncio.Queue(maxsize=max(1000, self.client_queue))
            self.redis_up = True
            self._tasks = [
                asyncio.create_task(self._publish_loop(), name="fastmango-logstream-publish"),
                asyncio.create_task(self._subscribe_loop(), name="fastmango-logstream-subscribe"),
            ]
        root = logging.getLogger()
        for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
            root.removeHandler(old)
        root.addHandler(self.handler)

    async def stop(self) -> None:
        """Detach the handler, end every client's stream and close Redis (idempotent)."""
        logging.getLogger().removeHandler(self.handler)
        self._stopping = True
        # redis-py's get_message(timeout=...) can swallow a cancellation (its read timeout catches it), so the
        # tasks are cancelled until they end, for a few seconds at most: a stop never hangs.
        deadline = time.monotonic() + self.socket_timeout + 2.0
        pending = [task for task in self._tasks if not task.done()]
        while pending and time.monotonic() < deadline:
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=0.05)
            pending = [task for task in pending if not task.done()]
        self._tasks = []
        for client in list(self._clients):
            self._drop(client, counted=False)
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
        self._redis = None
        self._subscribed = False
        self._loop = self._thread = None

    # -- records in -------------------------------------------------------------------------------------------

    def submit(self, entry: dict[str, Any]) -> None:
        """Take a serialized record from any thread; returns at once."""
        self.recent.append(entry)
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._thread:
            self._accept(entry)
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._accept, entry)

    def _accept(self, entry: dict[str, Any]) -> None:
        local = self._redis is None or not self._subscribed or self._publish_down()
        if local:
            self._fanout(entry)
        if self._outbox is not None:
            try:
                self._outbox.put_nowait((entry, local))
            except asyncio.QueueFull:
                self.lost += 1

    # -- clients ----------------------------------------------------------------------------------------------

    def connect(self, levelno: int = 0, logger: str | None = None, request_id: str | None = None) -> LogClient:
        """A new client with these filters (:class:`TooManyClients` past ``max_clients``)."""
        if len(self._clients) >= self.max_clients:
            raise TooManyClients(self.max_clients)
        client = LogClient(levelno, logger or None, request_id or None, asyncio.Queue(maxsize=self.client_queue))
        self._clients.add(client)
        return client

    def disconnect(self, client: LogClient) -> None:
        """Forget ``client`` (its stream ended)."""
        self._clients.discard(client)

    def _drop(self, client: LogClient, counted: bool = True) -> None:
        self._clients.discard(client)
        client.dropped = True
        if counted:
            self.dropped_clients += 1
        with contextlib.suppress(asyncio.QueueFull):  # wakes a stream waiting for its next event
            client.queue.put_nowait(("close", {}))

    def _fanout(self, entry: dict[str, Any]) -> None:
        for client in list(self._clients):
            if client.wants(entry):
                try:
                    client.queue.put_nowait(("log", entry))
                except asyncio.QueueFull:
                    self._drop(client)

    def _broadcast(self, event: str, data: dict[str, Any]) -> None:
        for client in list(self._clients):
            try:
                client.queue.put_nowait((event, data))
            except asyncio.QueueFull:
                self._drop(client)

    def status(self) -> dict[str, Any]:
        """The ``status`` event's data: how records travel and, while Redis is down, why."""
        data: dict[str, Any] = {"fanout": self.fanout, "redis": None}
        if self.redis_up is not None:
            data["redis"] = "up" if self.redis_up else "down"
        if self.redis_up is False:
            data["detail"] = f"Redis is unavailable ({self.redis_error}); showing this process's records only."
        return data

    def _set_redis(self, up: bool, error: BaseException | None = None) -> None:
        if error is not None:
            self.redis_error = f"{type(error).__name__}: {error}"
            self._down_until = time.monotonic() + self.retry_seconds
        if up:
            self._down_until = 0.0
        if self.redis_up == up:
            return
        self.redis_up = up
        self._broadcast("status", self.status())

    # -- Redis ------------------------------------------------------------------------------------------------

    def _publish_down(self) -> bool:
        return time.monotonic() < self._down_until

    async def _publish_loop(self) -> None:
        from fastmango.core.redis import redis_errors

        _streaming.set(True)
        errors = redis_errors()
        assert self._outbox is not None
        while True:
            batch = [await self._outbox.get()]
            while len(batch) < 200 and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            if self._publish_down():
                self._fan_out_unsent(batch)
                continue
            try:
                pipe = self._redis.pipeline(transaction=False)
                for entry, _ in batch:
                    text = json.dumps(entry, ensure_ascii=False)
                    pipe.publish(self.channel, text)
                    pipe.lpush(self.recent_key, text)
                pipe.ltrim(self.recent_key, 0, self.recent_size - 1)
                await pipe.execute()
            except errors as exc:
                self._set_redis(False, exc)
                self._fan_out_unsent(batch)

    def _fan_out_unsent(self, batch: Sequence[tuple[dict[str, Any], bool]]) -> None:
        for entry, fanned in batch:
            if not fanned:
                self._fanout(entry)

    async def _subscribe_loop(self) -> None:
        from fastmango.core.redis import redis_errors

        _streaming.set(True)
        errors = redis_errors()
        while not self._stopping:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                await self._redis.ping()  # the publisher's connection works too
                self._subscribed = True
                self._set_redis(True)
                while not self._stopping:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        with contextlib.suppress(ValueError, TypeError):
                            self._fanout(json.loads(message["data"]))
            except errors as exc:
                self._subscribed = False
                self._set_redis(False, exc)
            finally:
                self._subscribed = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(self.retry_seconds)

    async def history(
        self, limit: int, levelno: int = 0, logger: str | None = None, request_id: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """The newest ``limit`` records that match, oldest first, and where they come from (``redis``/``process``).

        Reads Redis when it is configured and up, this process's ring otherwise; never raises for Redis.
        """
        entries: list[dict[str, Any]] | None = None
        if self._redis is not None and not self._publish_down():
            from fastmango.core.redis import redis_errors

            try:
                texts = await self._redis.lrange(self.recent_key, 0, self.recent_size - 1)
                entries = [json.loads(text) for text in reversed(texts)]
            except redis_errors() as exc:
                self._set_redis(False, exc)
        source = "process" if entries is None else "redis"
        if entries is None:
            entries = list(self.recent)
        chosen = [entry for entry in entries if matches(entry, levelno, logger, request_id)]
        return chosen[-limit:], source
