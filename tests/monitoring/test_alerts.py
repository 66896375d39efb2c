"""Alerts: rules on the monitor's metrics fire to a real webhook receiver and a real SMTP server (aiosmtpd), recover
once, keep their cool-down, and a built-in rule fires when monitoring does not report; deliveries are tasks that
retry; one evaluator notifies when several share a Redis; rules are edited in the admin and checked.

The app runs with the inline task backend (deliveries run in the test's event loop); the monitor is the app's own
(``app.state.monitor``, memory store) unless a test feeds values of its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import Response
from sqlmodel import SQLModel

from fastmango import FastMango
from fastmango.auth import User
from fastmango.auth.permissions import sync_permissions
from fastmango.monitoring.alerts import NOT_REPORTING, AlertRule, AlertRuleError, check_metric, not_reporting_rule
from fastmango.monitoring.alerts_evaluator import AlertEvaluator, LocalLock, RedisLock
from fastmango.monitoring.alerts_setup import Alerts, install_alerts
from fastmango.monitoring.notifiers import deliver_alert
from fastmango.monitoring.store import MetricsUnavailable
from fastmango.testing import app_client
from tests.auth.conftest import AUTH_TABLES, PASSWORD, make_settings
from tests.db.test_migrations import fresh_postgres_url  # noqa: F401  (fixture)

TOKEN = "tok-5ecret-do-not-log"
TABLES = [*AUTH_TABLES, "api_history", "monitoring_alert_rule", "tasks_job_event"]


class Receiver:
    """A webhook receiver on a free port: records each JSON body; answers 500 to the first ``fail`` requests."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.attempts = 0
        self.fail = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.attempts += 1
                if receiver.attempts <= receiver.fail:
                    self.send_response(500)
                else:
                    receiver.bodies.append({"path": self.path, **body})
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{TOKEN}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """aiosmtpd's handler: keeps each message's envelope and text."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            {"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "text": envelope.content.decode()}
        )
        return "250 OK"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    with socket.socket() as probe:  # a free port (the controller's readiness check cannot use port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_port(smtp: tuple[Mailbox, int]) -> int:
    return smtp[1]


@pytest.fixture
def mailbox(smtp: tuple[Mailbox, int]) -> Mailbox:
    return smtp[0]


class Values:
    """A value source of the test's own: ``values[name]`` (a float, None, or an exception to raise)."""

    def __init__(self, **values: Any) -> None:
        self.values: dict[str, Any] = values
        self.reads = 0

    async def value(self, name: str, seconds: int) -> float | None:
        self.reads += 1
        found = self.values.get(name)
        if isinstance(found, BaseException):
            raise found
        return found


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/alerts.sqlite3"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


def build_app(tmp_path: Path, smtp_port: int = 1, *, database_url: str | None = None, **settings: Any) -> FastMango:
    values: dict[str, Any] = {
        "alerts_smtp_host": "127.0.0.1",
        "alerts_smtp_port": smtp_port,
        "alerts_smtp_from": "alerts@example.test",
        "alerts_delivery_backoff": 0.05,
        "alerts_interval_seconds": 3600,
    }
    app = FastMango(
        settings=make_settings(database_url or f"sqlite:///{tmp_path}/alerts.sqlite3", **(values | settings)),
        configure_logging=False,
    )

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/fail")
    async def fail() -> Response:
        return Response(status_code=500)

    if getattr(app.state, "alerts", None) is None:  # until the monitoring plugin installs alerts itself
        install_alerts(app)
    return app


@asynccontextmanager
async def started(app: FastMango) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as client:
        async with app.state.database.engine.begin() as conn:
            tables = [SQLModel.metadata.tables[t] for t in TABLES if t in SQLModel.metadata.tables]
            await conn.run_sync(SQLModel.metadata.create_all, tables=tables)
        await sync_permissions()
        yield client


async def eventually(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


async def settle(seconds: float = 0.3) -> None:
    """Let queued deliveries run (to show that nothing more arrives)."""
    await asyncio.sleep(seconds)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every line logged, but the database driver's DEBUG trace of statement parameters (the test saves the rule)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("aiosqlite"))


def states(bodies: list[dict[str, Any]]) -> list[str]:
    return [body["state"] for body in bodies]


async def test_error_rate_rule_fires_to_a_webhook_and_smtp_then_recovers_once(
    tmp_path: Path, database_url: str, receiver: Receiver, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp
    app = build_app(tmp_path, port, database_url=database_url)
    async with started(app) as client:
        rule = AlertRule.validated(
            name="errors",
            metric="error_rate",
            comparison=">",
            threshold=0.5,
            window_seconds=120,  # the current and the previous minute: a minute's turn cannot empty it
            notifiers=[{"kind": "webhook", "url": receiver.url}, {"kind": "email", "to": ["ops@example.test"]}],
        )
        await rule.save()
        evaluator = AlertEvaluator(app.state.monitor, app.settings)

        assert await evaluator.evaluate() == []  # no requests: error rate 0, ok
        for _ in range(3):
            assert (await client.get("/fail")).status_code == 500
        assert (await client.get("/ok")).status_code == 200
        [fired] = await evaluator.evaluate()  # 3 errors of 4 requests
        assert (fired.kind, fired.value, fired.notified) == ("fired", 0.75, True)
        await eventually(lambda: len(receiver.bodies) == 1 and len(mailbox.messages) == 1)
        body = receiver.bodies[0]
        assert body["text"] == "[FIRING] errors: error_rate = 0.75 (> 0.5 over 120 s)"
        assert {k: body[k] for k in ("rule", "metric", "value", "threshold", "comparison", "state")} == {
            "rule": "errors",
            "metric": "error_rate",
            "value": 0.75,
            "threshold": 0.5,
            "comparison": ">",
            "state": "firing",
        }
        assert datetime.fromisoformat(body["at"]).tzinfo is not None
        mail = mailbox.messages[0]
        assert mail["from"] == "alerts@example.test" and mail["to"] == ["ops@example.test"]
        assert "Subject: [FIRING] errors: error_rate = 0.75" in mail["text"]
        await rule.refresh_from_db()
        assert (rule.state, rule.last_value) == ("firing", 0.75)

        assert await evaluator.evaluate() == []  # still firing, within the cool-down: nothing new
        for _ in range(6):
            await client.get("/ok")
        [recovered] = await evaluator.evaluate()  # 3 of 10
        assert (recovered.kind, recovered.value) == ("recovered", 0.3)
        assert await evaluator.evaluate() == []
        assert await evaluator.evaluate() == []
        await eventually(lambda: len(receiver.bodies) == 2 and len(mailbox.messages) == 2)
        await settle()
        assert states(receiver.bodies) == ["firing", "ok"]  # one recovery
        assert receiver.bodies[1]["text"] == "[RECOVERED] errors: error_rate = 0.3 (> 0.5 over 120 s)"
        assert "Subject: [RECOVERED] errors" in mailbox.messages[1]["text"]
        await rule.refresh_from_db()
        assert (rule.state, rule.last_value) == ("ok", 0.3)


async def test_the_cool_down_holds_back_firing_notifications(tmp_path: Path, receiver: Receiver) -> None:
    app = build_app(tmp_path)
    async with started(app):
        rule = AlertRule.validated(
            name="slow",
            metric="latency_p95_ms",
            threshold=500,
            cooldown_seconds=600,
            notifiers=[{"kind": "webhook", "url": receiver.url}],
        )
        await rule.save()
        source = Values(latency_p95_ms=900.0)
        evaluator = AlertEvaluator(source, app.settings)
        start = datetime.now(UTC)

        assert [t.kind for t in await evaluator.evaluate(start)] == ["fired"]
        assert await evaluator.evaluate(start + timedelta(seconds=300)) == []  # still firing, within 600 s
        source.values["latency_p95_ms"] = 100.0
        [recovered] = await evaluator.evaluate(start + timedelta(seconds=330))
        assert recovered.notified
        source.values["latency_p95_ms"] = 800.0  # fires again within the cool-down of the first notification
        [again] = await evaluator.evaluate(start + timedelta(seconds=360))
        assert (again.kind, again.notified) == ("fired", False)
        source.values["latency_p95_ms"] = 100.0
        [flapped] = await evaluator.evaluate(start + timedelta(seconds=390))
        assert (flapped.kind, flapped.notified) == ("recovered", False)  # its firing was not notified: no recovery
        source.values["latency_p95_ms"] = 700.0
        assert [t.kind for t in await evaluator.evaluate(start + timedelta(seconds=420))] == ["fired"]
        [reminder] = await evaluator.evaluate(start + timedelta(seconds=1000))  # still firing, the cool-down over
        assert (reminder.kind, reminder.notified) == ("refired", True)
        await eventually(lambda: len(receiver.bodies) == 3)
        await settle()
        bodies = sorted(receiver.bodies, key=lambda body: datetime.fromisoformat(body["at"]))  # jobs: any order
        assert states(bodies) == ["firing", "ok", "firing"]
        assert [body["value"] for body in bodies] == [900.0, 100.0, 700.0]


async def test_the_not_reporting_rule_fires_when_nothing_reports(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_app(tmp_path)
    async with started(app):
        rule = not_reporting_rule(window_seconds=60)
        rule.notifiers = [{"kind": "webhook", "url": receiver.url}, {"kind": "log"}]
        await rule.save()
        real = AlertEvaluator(app.state.monitor, app.settings)
        assert await real.evaluate() == []  # this process reports

        caplog.set_level(logging.INFO, logger="fastmango.alerts")
        source = Values(processes=0.0)
        evaluator = AlertEvaluator(source, app.settings)
        [fired] = await evaluator.evaluate()
        assert (fired.rule, fired.kind) == (NOT_REPORTING, "fired")
        await eventually(lambda: len(receiver.bodies) == 1)
        assert receiver.bodies[0]["text"] == "[FIRING] monitoring is not reporting: processes = 0 (< 1 over 60 s)"
        await eventually(
            lambda: any(r.levelno == logging.WARNING for r in caplog.records if r.name == "fastmango.alerts")
        )

        source.values["processes"] = 2.0
        assert [t.kind for t in await evaluator.evaluate()] == ["recovered"]
        await eventually(lambda: len(receiver.bodies) == 2)
        recovery = [r for r in caplog.records if r.name == "fastmango.alerts" and "RECOVERED" in r.getMessage()]
        await eventually(lambda: bool(recovery) or any("RECOVERED" in r.getMessage() for r in caplog.records))

        # No observation at all, and a store that cannot be read, count as not reporting.
        later = datetime.now(UTC) + timedelta(hours=2)  # past the rule's cool-down
        source.values["processes"] = None
        assert [t.kind for t in await evaluator.evaluate(later)] == ["fired"]
        source.values["processes"] = 1.0
        assert [t.kind for t in await evaluator.evaluate(later)] == ["recovered"]
        source.values["processes"] = MetricsUnavailable()
        assert [t.kind for t in await evaluator.evaluate(later + timedelta(hours=2))] == ["fired"]


async def test_an_unreadable_store_leaves_other_rules_as_they_are(tmp_path: Path) -> None:
    app = build_app(tmp_path)
    async with started(app):
        await AlertRule.validated(name="errors", metric="error_rate", threshold=0.1).save()
        source = Values(error_rate=0.5)
        evaluator = AlertEvaluator(source, app.settings)
        assert [t.kind for t in await evaluator.evaluate()] == ["fired"]
        source.values["error_rate"] = MetricsUnavailable()
        assert await evaluator.evaluate() == []
        assert (await AlertRule.objects.get(name="errors")).state == "firing"  # unknown is not recovered


async def test_a_webhook_that_fails_twice_is_delivered_on_the_third_try(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.fail = 2
    app = build_app(tmp_path, alerts_delivery_retries=3, alerts_delivery_backoff=0.05)
    async with started(app):
        await AlertRule.validated(
            name="errors", metric="error_rate", threshold=0.1, notifiers=[{"kind": "webhook", "url": receiver.url}]
        ).save()
        evaluator = AlertEvaluator(Values(error_rate=0.5), app.settings)
        assert deliver_alert.retries == 3
        assert [t.kind for t in await evaluator.evaluate()] == ["fired"]
        assert receiver.bodies == []  # the round queued the delivery; it did not wait for its retries
        await eventually(lambda: len(receiver.bodies) == 1)
        assert receiver.attempts == 3
        assert receiver.bodies[0]["state"] == "firing"
    retried = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retried) == 2
    assert "answered 500" in retried[0]
    assert TOKEN not in logged(caplog)  # the URL's token is in no log line (httpx's request line included)
    assert f"127.0.0.1:{receiver.server.server_address[1]}/..." in retried[0]


async def test_a_webhook_that_never_answers_fails_without_the_url_in_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = build_app(tmp_path, alerts_delivery_retries=0, alerts_smtp_password="smtp-pa55word")
    async with started(app):
        closed = f"http://127.0.0.1:9/{TOKEN}"  # the discard port: refused
        await AlertRule.validated(
            name="errors",
            metric="error_rate",
            threshold=0.1,
            notifiers=[{"kind": "webhook", "url": closed}, {"kind": "email", "to": ["ops@example.test"]}],
        ).save()
        await AlertEvaluator(Values(error_rate=0.5), app.settings).evaluate()
        await eventually(lambda: sum("failed" in r.getMessage() for r in caplog.records) >= 2)
    assert "ConnectError" in caplog.text
    assert TOKEN not in logged(caplog)
    assert "smtp-pa55word" not in logged(caplog)


def test_an_unknown_metric_is_refused_with_its_close_match() -> None:
    with pytest.raises(AlertRuleError, match="unknown metric 'eror_rate'; did you mean 'error_rate'"):
        AlertRule.validated(name="x", metric="eror_rate", threshold=1)
    with pytest.raises(AlertRuleError, match="did you mean 'request_rate'"):
        check_metric("requests_rate")
    with pytest.raises(AlertRuleError, match=r"unknown metric 'cpu' \(known: ai_cache_hit_rate"):
        check_metric("cpu")
    with pytest.raises(AlertRuleError, match="comparison: must be one of >, <, >=, <="):
        AlertRule.validated(name="x", metric="error_rate", comparison="=>")
    with pytest.raises(AlertRuleError, match=r"notifiers\[0\]\.webhook\.url: must be an http"):
        AlertRule.validated(name="x", metric="error_rate", notifiers=[{"kind": "webhook", "url": "ftp://x"}])
    with pytest.raises(AlertRuleError, match="each notifier needs a kind: webhook, email or log"):
        AlertRule.validated(name="x", metric="error_rate", notifiers=[{"kind": "pager"}])
    with pytest.raises(AlertRuleError, match=r"notifiers\[0\]\.email\.to"):
        AlertRule.validated(name="x", metric="error_rate", notifiers=[{"kind": "email", "to": []}])
    with pytest.raises(AlertRuleError, match="window_seconds"):
        AlertRule.validated(name="x", metric="error_rate", window_seconds=0)


async def test_two_evaluators_sharing_redis_notify_once(tmp_path: Path, receiver: Receiver, redis_url: str) -> None:
    app = build_app(tmp_path)
    async with started(app):
        await AlertRule.validated(
            name="errors", metric="error_rate", threshold=0.1, notifiers=[{"kind": "webhook", "url": receiver.url}]
        ).save()
        shared = app.settings.model_copy(
            update={"redis_url": redis_url, "alerts_lock_key": f"fm-test:alerts:{uuid.uuid4().hex}"}
        )
        first_source, second_source = Values(error_rate=0.5), Values(error_rate=0.5)
        first, second = AlertEvaluator(first_source, shared), AlertEvaluator(second_source, shared)
        assert isinstance(first.lock, RedisLock)
        try:
            rounds = await asyncio.gather(first.evaluate(), second.evaluate())
            assert sorted(len(r) for r in rounds) == [0, 1]
            assert sorted([first_source.reads, second_source.reads]) == [0, 1]  # the other did not even read
            assert await first.evaluate() == [] and await second.evaluate() == []  # still firing: no one notifies
            await eventually(lambda: len(receiver.bodies) == 1)
            await settle()
            assert len(receiver.bodies) == 1

            holder, other = (first, second) if first_source.reads else (second, first)
            await holder.stop()  # gives the lock up: the other evaluates from its next round
            other_source = second_source if holder is first else first_source
            before = other_source.reads
            await other.evaluate()
            assert other_source.reads == before + 1
        finally:
            await first.stop()
            await second.stop()


async def test_without_redis_an_evaluator_is_alone(tmp_path: Path) -> None:
    app = build_app(tmp_path)
    assert isinstance(AlertEvaluator(Values(), app.settings).lock, LocalLock)


def fast(app: FastMango) -> Any:
    """The app's settings with an evaluation every 50 ms (the app's own evaluator, if any, keeps its hour)."""
    return app.settings.model_copy(update={"alerts_interval_seconds": 0.05})


async def test_startup_starts_the_evaluator_on_the_apps_monitor_and_shutdown_stops_it(tmp_path: Path) -> None:
    app = build_app(tmp_path)
    async with started(app):
        alerts = Alerts()
        await alerts.startup(app)
        evaluator = alerts.evaluator
        assert evaluator is not None and evaluator.source is app.state.monitor
        await alerts.shutdown()
        assert alerts.evaluator is None
        assert evaluator._task is None
    off = build_app(tmp_path, alerts=False)
    async with started(off):
        alerts = Alerts()
        await alerts.startup(off)
        assert alerts.evaluator is None


async def test_the_loop_evaluates_every_interval_and_survives_errors(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_app(tmp_path)
    async with started(app):
        await AlertRule.validated(
            name="errors", metric="error_rate", threshold=0.1, notifiers=[{"kind": "webhook", "url": receiver.url}]
        ).save()
        caplog.set_level(logging.DEBUG, logger="fastmango.alerts")
        source = Values(error_rate=RuntimeError("the store broke"))
        evaluator = AlertEvaluator(source, fast(app))
        evaluator.start()
        try:
            await eventually(lambda: source.reads >= 3)  # the error was logged (once) and the loop went on
            failures = [r for r in caplog.records if "evaluating the alert rule 'errors' failed" in r.getMessage()]
            assert [r.levelno for r in failures[:2]] == [logging.ERROR, logging.DEBUG]
            source.values["error_rate"] = 0.5
            await eventually(lambda: len(receiver.bodies) == 1)
        finally:
            await evaluator.stop()
        reads = source.reads
        await asyncio.sleep(0.2)
        assert source.reads == reads  # stopped


async def test_staff_with_monitoring_change_edit_rules_in_the_admin(tmp_path: Path, database_url: str) -> None:
    app = build_app(tmp_path, database_url=database_url)
    async with started(app) as client:
        editor = await staff(client, "editor", "monitoring.view", "monitoring.change")
        viewer = await staff(client, "viewer", "monitoring.view")
        other = await staff(client, "other")
        rules = "/admin/api/models/monitoring_alert_rule"
        rule = {"name": "errors", "metric": "error_rate", "comparison": ">", "threshold": 0.05, "window_seconds": 300}

        created = await client.post(rules, json={**rule, "state": "firing"}, headers=editor)
        assert created.status_code == 201, created.text
        pk = created.json()["id"]
        assert created.json()["state"] == "ok"  # the evaluator's column is not the editor's
        changed = await client.patch(f"{rules}/{pk}", json={"threshold": 0.1}, headers=editor)
        assert changed.status_code == 200, changed.text
        assert (await AlertRule.objects.get(pk=pk)).threshold == 0.1

        typo = await client.patch(f"{rules}/{pk}", json={"metric": "eror_rate"}, headers=editor)
        assert typo.status_code == 422
        assert "did you mean 'error_rate'" in typo.json()["detail"]
        assert typo.json()["errors"][0]["field"] == "metric"

        listed = await client.get(rules, headers=viewer)
        assert listed.status_code == 200, listed.text
        refused = await client.patch(f"{rules}/{pk}", json={"threshold": 1}, headers=viewer)
        assert refused.status_code == 403
        assert "monitoring.change" in refused.text
        assert (await client.get(rules, headers=other)).status_code == 403


async def staff(client: httpx.AsyncClient, name: str, *codenames: str) -> dict[str, str]:
    user = await User.objects.create_user(name, PASSWORD, is_staff=True)
    if codenames:
        await user.grant(*codenames)
    response = await client.post("/auth/token", data={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_a_database_without_the_rules_table_is_reported_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="fastmango.alerts")
    app = build_app(tmp_path)
    async with app_client(app):  # not migrated: no monitoring_alert_rule
        evaluator = AlertEvaluator(Values(), fast(app))
        evaluator.start()
        try:
            await eventually(lambda: sum("failed again" in r.getMessage() for r in caplog.records) >= 2)
        finally:
            await evaluator.stop()
    errors = [r for r in caplog.records if r.name == "fastmango.alerts" and r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in errors] == ["evaluating the alert rules failed; retrying every 0.05 s"]


async def test_an_unreachable_lock_evaluates_anyway_and_says_so_once(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("redis")
    app = build_app(tmp_path)
    async with started(app):
        await AlertRule.validated(
            name="errors", metric="error_rate", threshold=0.1, notifiers=[{"kind": "webhook", "url": receiver.url}]
        ).save()
        down = app.settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0", "redis_socket_timeout": 0.5})
        evaluator = AlertEvaluator(Values(error_rate=0.5), down)
        assert [t.kind for t in await evaluator.evaluate()] == ["fired"]  # better two evaluators than none
        assert await evaluator.evaluate() == []
        await evaluator.stop()
        await eventually(lambda: len(receiver.bodies) == 1)
    warnings = [r.getMessage() for r in caplog.records if "lock is unavailable" in r.getMessage()]
    assert warnings == ["the alert evaluator's lock is unavailable (ConnectionError); evaluating anyway"]
