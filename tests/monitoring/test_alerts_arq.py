"""Alert deliveries on arq: a real Redis queue and an arq worker (in this event loop) retry a failing webhook until
it answers, and the job in Redis carries no webhook token."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlmodel import SQLModel

from fastmango.core.redis import redis_client
from fastmango.monitoring.alerts import AlertRule
from fastmango.monitoring.alerts_evaluator import AlertEvaluator
from fastmango.monitoring.alerts_setup import install_alerts
from tests.monitoring.test_alerts import TOKEN, Receiver, Values, eventually
from tests.tasks.conftest import Harness, delete_queue_keys, make_settings


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
async def harness(redis_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(
        tmp_path,
        redis_url,
        alerts_delivery_retries=3,
        alerts_delivery_backoff=0.05,
        alerts_interval_seconds=3600,
        alerts_lock_key=f"fm-test:alerts:{uuid.uuid4().hex}",
    )
    harness = Harness("arq", settings)
    if getattr(harness.app.state, "alerts", None) is None:  # until the monitoring plugin installs alerts itself
        install_alerts(harness.app)
    try:
        yield harness
    finally:
        await delete_queue_keys(redis_url, settings.task_queue_name)


async def test_a_failing_webhook_is_retried_by_the_arq_worker(
    harness: Harness, receiver: Receiver, redis_url: str
) -> None:
    receiver.fail = 2
    async with harness.run(tables=False):
        names = ("monitoring_alert_rule", "tasks_job_event")
        tables = [table for name, table in SQLModel.metadata.tables.items() if name in names]
        async with harness.app.state.database.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all, tables=tables)
        await AlertRule.validated(
            name=f"errors-{uuid.uuid4().hex[:6]}",
            metric="error_rate",
            threshold=0.1,
            notifiers=[{"kind": "webhook", "url": receiver.url}],
        ).save()
        evaluator = AlertEvaluator(Values(error_rate=0.5), harness.settings)
        try:
            assert [t.kind for t in await evaluator.evaluate()] == ["fired"]
        finally:
            await evaluator.stop()  # gives the lock up
        await eventually(lambda: len(receiver.bodies) == 1, timeout=30)
        assert receiver.attempts == 3
        assert receiver.bodies[0]["state"] == "firing"

        client = redis_client(redis_url)
        try:
            keys = [key async for key in client.scan_iter(match="arq:*")]
            keys += [key async for key in client.scan_iter(match=f"{harness.settings.task_queue_name}*")]
            stored = [await client.dump(key) for key in keys]
        finally:
            await client.aclose()
        assert stored  # the jobs' results and the job history
        assert not [value for value in stored if value is not None and TOKEN.encode() in value]
