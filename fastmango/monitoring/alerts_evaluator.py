"""The alert evaluator: every ``alerts_interval_seconds`` it reads each enabled rule's metric and moves its state.

- A rule whose condition holds becomes ``firing`` and notifies; while it keeps firing it notifies again at most
  once per ``cooldown_seconds`` (counted from the last firing notification, so a rule that flaps within its
  cool-down does not notify twice).
- A firing rule whose condition no longer holds becomes ``ok`` and sends one recovery notification (when its
  firing was notified).
- A metric the store cannot read (Redis down: :class:`~fastmango.monitoring.store.MetricsUnavailable`) counts as
  no data: ``fire_on_no_data`` rules (the built-in "monitoring is not reporting") hold, the others are left as
  they are until it can be read again.

One process evaluates: with ``REDIS_URL`` the evaluators of every process compete for a Redis lock
(``SET NX EX``) that its holder renews each round and that lapses after two intervals when the holder dies;
without Redis the process evaluates alone. A state change is also written conditionally (``UPDATE ... WHERE
state = <the state read>``), so even two evaluators that both ran one round notify once.

Notifications are queued as :data:`fastmango.monitoring.notifiers.deliver_alert` jobs: the round never waits for
a receiver. An error in a round (the database away, a broken rule) is logged and the loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from fastmango.monitoring.alerts import FIRING, OK, AlertRule, AlertRuleError, parse_notifiers
from fastmango.monitoring.notifiers import AlertEvent, configure_delivery, deliver_alert
from fastmango.monitoring.store import MetricsUnavailable

if TYPE_CHECKING:
    from fastmango.core.settings import Settings

logger = logging.getLogger("fastmango.alerts")


class ValueSource(Protocol):
    """What the evaluator reads metrics from: :class:`fastmango.monitoring.monitor.Monitor` (or a test's fake)."""

    async def value(self, name: str, seconds: int) -> float | None: ...


class EvaluatorLock(Protocol):
    """Decides whether this process evaluates this round."""

    async def acquire(self) -> bool: ...

    async def release(self) -> None: ...


class LocalLock:
    """Alone (no Redis): this process always evaluates."""

    async def acquire(self) -> bool:
        return True

    async def release(self) -> None:
        return None


# Renew only our own lock (another process may hold it once ours lapsed).
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class RedisLock:
    """A lock in Redis held by one process at a time: taken with ``SET NX EX``, renewed by its holder each round.

    Args:
        url: The Redis URL.
        key: The lock's key.
        ttl: Seconds the lock outlives its holder's last renewal.
        socket_timeout: Seconds a Redis command may take.
    """

    def __init__(self, url: str, key: str, ttl: int, socket_timeout: float = 2.0) -> None:
        self.url, self.key, self.ttl, self.socket_timeout = url, key, ttl, socket_timeout
        self.token = uuid.uuid4().hex
        self._client: Any = None

    def _redis(self) -> Any:
        if self._client is None:
            from fastmango.core.redis import redis_client

            self._client = redis_client(self.url, socket_timeout=self.socket_timeout)
        return self._client

    async def acquire(self) -> bool:
        """Whether this process holds the lock (taken now or renewed).

        Raises:
            Exception: one of :func:`fastmango.core.redis.redis_errors` when Redis is down.
        """
        client = self._redis()
        if await client.set(self.key, self.token, nx=True, ex=self.ttl):
            return True
        return bool(await client.eval(_RENEW, 1, self.key, self.token, self.ttl))

    async def release(self) -> None:
        """Give the lock up (at shutdown, so another process takes over at its next round) and disconnect."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            with contextlib.suppress(Exception):
                await client.eval(_RELEASE, 1, self.key, self.token)
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()


@dataclass(frozen=True)
class Transition:
    """What one round did to a rule: it ``fired`` (or fired again after its cool-down) or ``recovered``."""

    rule: str
    kind: Literal["fired", "refired", "recovered"]
    value: float | None
    notified: bool


def make_lock(settings: Settings) -> EvaluatorLock:
    """A Redis lock when ``REDIS_URL`` is set, else :class:`LocalLock`."""
    if settings.redis_url:
        ttl = max(int(settings.alerts_interval_seconds * 2) + 1, 5)
        return RedisLock(settings.redis_url, settings.alerts_lock_key, ttl, settings.redis_socket_timeout)
    return LocalLock()


class AlertEvaluator:
    """Evaluates the enabled rules against ``source``.

    Args:
        source: Where metrics are read (``app.state.monitor``).
        settings: ``alerts_interval_seconds``, the lock (``REDIS_URL``, ``alerts_lock_key``) and the delivery's
            retries and backoff.
        lock: The lock to use instead of the one the settings select.
    """

    def __init__(self, source: ValueSource, settings: Settings, *, lock: EvaluatorLock | None = None) -> None:
        self.source = source
        self.settings = settings
        self.interval = settings.alerts_interval_seconds
        self.lock = lock if lock is not None else make_lock(settings)
        self._task: asyncio.Task[None] | None = None
        self._unreadable: set[str] = set()
        self._failed: set[str] = set()
        self._lock_failing = False
        configure_delivery(settings)

    async def evaluate(self, now: datetime | None = None) -> list[Transition]:
        """One round: nothing when another process holds the lock; else each enabled rule's transition.

        Raises:
            Exception: the rules could not be read (the loop logs it and tries again next round).
        """
        if not await self._acquire():
            return []
        now = now or datetime.now(UTC)
        rules = await AlertRule.objects.filter(enabled=True).order_by("id")
        values: dict[tuple[str, int], float | MetricsUnavailable | None] = {}
        transitions = []
        for rule in rules:
            try:
                transition = await self._evaluate_rule(rule, values, now)
            except Exception as exc:
                if rule.name not in self._failed:  # once until it works again, not every round
                    logger.exception("evaluating the alert rule %r failed", rule.name)
                    self._failed.add(rule.name)
                else:
                    logger.debug("evaluating the alert rule %r failed again: %s", rule.name, exc)
                continue
            self._failed.discard(rule.name)
            if transition is not None:
                transitions.append(transition)
        return transitions

    async def _acquire(self) -> bool:
        try:
            held = await self.lock.acquire()
        except Exception as exc:  # Redis down: better two evaluators (the conditional updates notify once) than none
            if not self._lock_failing:
                logger.warning("the alert evaluator's lock is unavailable (%s); evaluating anyway", type(exc).__name__)
            self._lock_failing = True
            return True
        self._lock_failing = False
        return held

    async def _read(
        self, rule: AlertRule, values: dict[tuple[str, int], float | MetricsUnavailable | None]
    ) -> float | MetricsUnavailable | None:
        key = (rule.metric, rule.window_seconds)
        if key not in values:
            try:
                values[key] = await self.source.value(rule.metric, rule.window_seconds)
            except MetricsUnavailable as exc:
                values[key] = exc
        return values[key]

    async def _evaluate_rule(
        self, rule: AlertRule, values: dict[tuple[str, int], float | MetricsUnavailable | None], now: datetime
    ) -> Transition | None:
        try:
            rule.check()
        except AlertRuleError as exc:
            if rule.name not in self._unreadable:
                logger.error("the alert rule %r cannot be evaluated: %s", rule.name, exc)
                self._unreadable.add(rule.name)
            return None
        self._unreadable.discard(rule.name)
        read = await self._read(rule, values)
        if isinstance(read, MetricsUnavailable) and not rule.fire_on_no_data:
            return None  # unknown: neither firing nor recovered
        value = None if isinstance(read, MetricsUnavailable) else read
        holds = rule.holds(value)
        queryset = AlertRule.objects.filter(pk=rule.pk, state=rule.state)
        if holds:
            due = (
                rule.last_notified_at is None or (now - rule.last_notified_at).total_seconds() >= rule.cooldown_seconds
            )
            if rule.state == FIRING and not due:
                await queryset.update(last_value=value, evaluated_at=now)
                return None
            changes: dict[str, Any] = {"state": FIRING, "last_value": value, "evaluated_at": now}
            if rule.state != FIRING:
                changes["since"] = now
            if due:
                changes["last_notified_at"] = now
                if rule.state == FIRING:  # a reminder: only one evaluator may send it
                    queryset = queryset.filter(last_notified_at=rule.last_notified_at)
            if not await queryset.update(**changes):
                return None  # another evaluator moved it first
            if due:
                await self._notify(rule, AlertEvent.of(rule, value, FIRING, now))
            kind: Literal["fired", "refired"] = "refired" if rule.state == FIRING else "fired"
            return Transition(rule.name, kind, value, due)
        if rule.state != FIRING:
            await queryset.update(last_value=value, evaluated_at=now)
            return None
        if not await queryset.update(state=OK, since=now, last_value=value, evaluated_at=now):
            return None
        # Recovery of a firing that was notified (one that flapped within its cool-down was not).
        notified = rule.last_notified_at is not None and (rule.since is None or rule.last_notified_at >= rule.since)
        if notified:
            await self._notify(rule, AlertEvent.of(rule, value, OK, now))
        return Transition(rule.name, "recovered", value, notified)

    async def _notify(self, rule: AlertRule, event: AlertEvent) -> None:
        assert rule.id is not None
        for index, _notifier in enumerate(parse_notifiers(rule.notifiers)):
            try:
                await deliver_alert.enqueue(rule_id=rule.id, notifier=index, event=event)
            except Exception:
                logger.exception("queueing the notification of alert %r failed", rule.name)

    def start(self) -> None:
        """Evaluate every ``interval`` seconds in a background task until :meth:`stop`."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="fastmango-alerts")

    async def _run(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.evaluate()
            except Exception as exc:
                if not failing:  # once per outage (a database away, a project that did not migrate yet)
                    logger.exception("evaluating the alert rules failed; retrying every %g s", self.interval)
                else:
                    logger.debug("evaluating the alert rules failed again: %s", exc)
                failing = True
            else:
                if failing:
                    logger.info("the alert rules are evaluated again")
                failing = False

    async def stop(self) -> None:
        """Stop the loop and give up the lock."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self.lock.release()
