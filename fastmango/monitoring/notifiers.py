"""Alert notifications: webhook (JSON, Slack-compatible), email (aiosmtplib) and log, delivered by a task.

The evaluator queues one :data:`deliver_alert` job per notifier of a rule that fires or recovers, so a slow or
failing receiver never holds up an evaluation, and a failed delivery is retried with backoff
(``alerts_delivery_retries``, ``alerts_delivery_backoff``). A job carries the rule's id, the notifier's position
and the event; the webhook URL and the addresses are read from the rule when the job runs, so no secret travels
in job arguments, job events or the task log. Errors name a webhook by its scheme and host only (Slack's and
most tokens are in the path), and httpx's own request log line is held back while a webhook is posted.

A webhook receives::

    {"text": "[FIRING] errors: error_rate = 0.25 (> 0.05 over 300 s)", "rule": "errors", "metric": "error_rate",
     "value": 0.25, "threshold": 0.05, "comparison": ">", "window_seconds": 300, "state": "firing",
     "at": "2026-12-01T19:40:00Z"}
"""

from __future__ import annotations

import contextvars
import logging
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel

from fastmango.core.lazy import require
from fastmango.monitoring.alerts import FIRING, AlertRule, EmailNotifier, LogNotifier, WebhookNotifier, parse_notifiers
from fastmango.tasks import TaskContext, task

if TYPE_CHECKING:
    from fastmango.core.settings import Settings

logger = logging.getLogger("fastmango.alerts")

#: While set, httpx's INFO line (which prints the full URL, token included) is not logged.
_posting_webhook: contextvars.ContextVar[bool] = contextvars.ContextVar("fastmango_posting_webhook", default=False)


class AlertEvent(BaseModel):
    """A rule that started firing (or still fires, after its cool-down) or recovered."""

    rule: str
    metric: str
    value: float | None
    threshold: float
    comparison: str
    window_seconds: int
    state: Literal["firing", "ok"]
    at: datetime

    @property
    def text(self) -> str:
        """One line for people: ``[FIRING] errors: error_rate = 0.25 (> 0.05 over 300 s)``."""
        label = "FIRING" if self.state == FIRING else "RECOVERED"
        shown = "no data" if self.value is None else f"{self.value:g}"
        condition = f"{self.comparison} {self.threshold:g} over {self.window_seconds} s"
        return f"[{label}] {self.rule}: {self.metric} = {shown} ({condition})"

    def payload(self) -> dict[str, object]:
        """The webhook's JSON body: Slack's ``text`` and the structured fields."""
        return {"text": self.text, **self.model_dump(mode="json")}

    @classmethod
    def of(cls, rule: AlertRule, value: float | None, state: Literal["firing", "ok"], at: datetime) -> AlertEvent:
        return cls(
            rule=rule.name,
            metric=rule.metric,
            value=value,
            threshold=rule.threshold,
            comparison=rule.comparison,
            window_seconds=rule.window_seconds,
            state=state,
            at=at,
        )


class DeliveryFailed(Exception):
    """A notification was not delivered (the message names no secret); the delivery task retries it."""


def safe_url(url: str) -> str:
    """``https://hooks.slack.com/...``: a webhook URL with its path, query and credentials left out."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/..."


class _HideWebhookRequests(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _posting_webhook.get()


_httpx_filter = _HideWebhookRequests()


async def send_webhook(notifier: WebhookNotifier, event: AlertEvent, settings: Settings) -> None:
    """POST the event's JSON to the webhook.

    Raises:
        DeliveryFailed: no answer, or an answer other than 2xx.
    """
    httpx = require("httpx", extra="ai")
    httpx_logger = logging.getLogger("httpx")
    if _httpx_filter not in httpx_logger.filters:
        httpx_logger.addFilter(_httpx_filter)
    where = safe_url(notifier.url)
    token = _posting_webhook.set(True)
    try:
        async with httpx.AsyncClient(timeout=settings.alerts_delivery_timeout) as client:
            response = await client.post(notifier.url, json=event.payload())
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"webhook {where}: {type(exc).__name__}") from None
    finally:
        _posting_webhook.reset(token)
    if not response.is_success:
        raise DeliveryFailed(f"webhook {where} answered {response.status_code}")


async def send_email(notifier: EmailNotifier, event: AlertEvent, settings: Settings) -> None:
    """Mail the event through ``alerts_smtp_host``.

    Raises:
        DeliveryFailed: no SMTP host is configured, or the server refused or could not be reached.
    """
    if not settings.alerts_smtp_host:
        raise DeliveryFailed("email notifier: set ALERTS_SMTP_HOST (and alerts_smtp_from) to send alert mail")
    aiosmtplib = require("aiosmtplib", extra="email")
    message = EmailMessage()
    message["From"] = settings.alerts_smtp_from
    message["To"] = ", ".join(notifier.to)
    message["Subject"] = event.text
    fields = "\n".join(f"{name}: {value}" for name, value in event.model_dump(mode="json").items())
    message.set_content(f"{event.text}\n\n{fields}\n")
    password = settings.alerts_smtp_password
    try:
        await aiosmtplib.send(
            message,
            hostname=settings.alerts_smtp_host,
            port=settings.alerts_smtp_port,
            username=settings.alerts_smtp_username,
            password=password.get_secret_value() if password is not None else None,
            start_tls=settings.alerts_smtp_starttls,
            use_tls=settings.alerts_smtp_tls,
            timeout=settings.alerts_delivery_timeout,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        where = f"{settings.alerts_smtp_host}:{settings.alerts_smtp_port}"
        raise DeliveryFailed(f"email via {where}: {type(exc).__name__}: {_without(exc, password)}") from None


def _without(exc: BaseException, password: object) -> str:
    text = str(exc)
    secret = getattr(password, "get_secret_value", lambda: "")()
    return text.replace(secret, "***") if secret else text


def send_log(event: AlertEvent) -> None:
    """A WARNING line when the rule fires, INFO when it recovers (logger ``fastmango.alerts``)."""
    level = logging.WARNING if event.state == FIRING else logging.INFO
    logger.log(level, "alert %s", event.text, extra={"alert": event.model_dump(mode="json")})


async def notify(
    notifier: WebhookNotifier | EmailNotifier | LogNotifier, event: AlertEvent, settings: Settings
) -> None:
    """Deliver ``event`` to one notifier, now.

    Raises:
        DeliveryFailed: it was not delivered.
    """
    if isinstance(notifier, WebhookNotifier):
        await send_webhook(notifier, event, settings)
    elif isinstance(notifier, EmailNotifier):
        await send_email(notifier, event, settings)
    else:
        send_log(event)


@task(name="fastmango.monitoring.deliver_alert", retries=4, backoff=2.0, timeout=60)
async def deliver_alert(ctx: TaskContext, rule_id: int, notifier: int, event: AlertEvent) -> str:
    """Deliver ``event`` to notifier number ``notifier`` of rule ``rule_id`` (a failure raises: the job retries).

    Returns:
        The kind of notifier delivered to, or ``"skipped"`` when the rule or the notifier is gone.
    """
    rule = await AlertRule.objects.filter(pk=rule_id).first()
    if rule is None:
        logger.info("alert %s not delivered: rule %d was deleted", event.rule, rule_id)
        return "skipped"
    notifiers = parse_notifiers(rule.notifiers)
    if notifier >= len(notifiers):
        logger.info("alert %s not delivered: the rule's notifier %d was removed", event.rule, notifier)
        return "skipped"
    target = notifiers[notifier]
    await notify(target, event, ctx.settings)
    return target.kind


def configure_delivery(settings: Settings) -> None:
    """Apply ``alerts_delivery_retries`` and ``alerts_delivery_backoff`` to the delivery task."""
    deliver_alert.retries = settings.alerts_delivery_retries
    deliver_alert.backoff = settings.alerts_delivery_backoff
