"""Alert rules: a metric of the monitor compared with a threshold over a window, with where to send the news.

    AlertRule(name="errors", metric="error_rate", comparison=">", threshold=0.05, window_seconds=300,
              notifiers=[{"kind": "webhook", "url": "https://hooks.slack.com/..."}, {"kind": "log"}])

A rule is a row of ``monitoring_alert_rule``, edited in the admin. It also holds its state (``ok`` or ``firing``,
since when, the last value read) which :mod:`fastmango.monitoring.alerts_evaluator` keeps. Rules written through
the admin or :meth:`AlertRule.validated` are checked: a known metric (a typo gets its close match), a comparison,
positive windows, notifiers of a known kind with what each needs.

The built-in rule :data:`NOT_REPORTING` ("monitoring is not reporting", created by the monitoring migration)
fires when no process reported metrics in its window, or the shared store cannot be read: ``fire_on_no_data``.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, field_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON

from fastmango.db import Field, Model, UTCDateTime
from fastmango.monitoring.windows import VALUES

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}
OK: Final = "ok"
FIRING: Final = "firing"
#: The name of the built-in rule that fires when no process reports metrics.
NOT_REPORTING = "monitoring is not reporting"
#: The columns the evaluator keeps (read-only in the admin).
STATE_FIELDS = ("state", "since", "last_value", "last_notified_at", "evaluated_at")


class AlertRuleError(ValueError):
    """A rule that cannot be evaluated: ``field`` names what is wrong, the message says why (and the fix)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class WebhookNotifier(BaseModel):
    """POST the event as JSON (Slack-compatible: a ``text`` field plus the structured fields)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["webhook"]
    url: str

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or len(value) < 10:
            raise ValueError("must be an http:// or https:// URL")
        return value


class EmailNotifier(BaseModel):
    """Mail the event to ``to`` through the ``alerts_smtp_*`` server."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["email"]
    to: list[str] = PydanticField(min_length=1)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address.strip("@") or any(c.isspace() for c in address):
                raise ValueError(f"{address!r} is not an email address")
        return value


class LogNotifier(BaseModel):
    """A WARNING line of the ``fastmango.alerts`` logger when a rule fires, an INFO line when it recovers."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["log"]


Notifier = Annotated[WebhookNotifier | EmailNotifier | LogNotifier, PydanticField(discriminator="kind")]
_NOTIFIERS: TypeAdapter[list[Notifier]] = TypeAdapter(list[Notifier])


def parse_notifiers(value: Any) -> list[WebhookNotifier | EmailNotifier | LogNotifier]:
    """The notifiers of a rule's ``notifiers`` JSON list.

    Raises:
        AlertRuleError: not a list of known notifiers (the message names the entry and the problem).
    """
    try:
        return _NOTIFIERS.validate_python(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "union_tag_invalid" or error["type"] == "union_tag_not_found":
            message = "each notifier needs a kind: webhook, email or log"
        raise AlertRuleError(f"notifiers{where}", message) from None


def check_metric(name: str) -> str:
    """``name`` when the monitor knows it (:data:`fastmango.monitoring.windows.VALUES`).

    Raises:
        AlertRuleError: unknown, with the close match when there is one.
    """
    if name in VALUES:
        return name
    close = difflib.get_close_matches(name, list(VALUES), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise AlertRuleError("metric", f"unknown metric {name!r}{hint} (known: {', '.join(sorted(VALUES))})")


def check_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The given fields of a rule, checked (a partial update checks only what it changes).

    Raises:
        AlertRuleError: the first field that is wrong.
    """
    checked = dict(values)
    if "metric" in values:
        check_metric(str(values["metric"]))
    if "comparison" in values and values["comparison"] not in COMPARISONS:
        raise AlertRuleError("comparison", f"must be one of {', '.join(COMPARISONS)}, not {values['comparison']!r}")
    if "window_seconds" in values and not (isinstance(values["window_seconds"], int) and values["window_seconds"] > 0):
        raise AlertRuleError("window_seconds", "must be a positive number of seconds")
    if "cooldown_seconds" in values and not (
        isinstance(values["cooldown_seconds"], int) and values["cooldown_seconds"] >= 0
    ):
        raise AlertRuleError("cooldown_seconds", "must be 0 or more seconds")
    if "name" in values and not str(values["name"]).strip():
        raise AlertRuleError("name", "must not be empty")
    if "notifiers" in values:
        checked["notifiers"] = [n.model_dump() for n in parse_notifiers(values["notifiers"])]
    return checked


class AlertRule(Model, table=True):
    """An alert rule and its state.

    Attributes:
        name: Unique; notifications name the rule by it.
        metric: A name of :data:`fastmango.monitoring.windows.VALUES` (``error_rate``, ``latency_p95_ms``...).
        comparison: ``>``, ``<``, ``>=`` or ``<=``: the rule holds when ``value <comparison> threshold``.
        threshold: What the value is compared with (a rate is a fraction: 0.05 is 5 %).
        window_seconds: The value is the metric over the last this many seconds, every process summed.
        cooldown_seconds: While firing, no new firing notification within this long of the last one.
        fire_on_no_data: The rule also holds when the metric has no observation or the store cannot be read.
        enabled: Disabled rules are not evaluated (and keep their state).
        notifiers: JSON list: ``{"kind": "webhook", "url": ...}``, ``{"kind": "email", "to": [...]}``,
            ``{"kind": "log"}``.
        state: ``ok`` or ``firing`` (kept by the evaluator).
        since: When the rule entered its state.
        last_value: The value of the last evaluation (None: no observation).
        last_notified_at: When the last firing notification went out.
        evaluated_at: When the rule was last evaluated.
    """

    __tablename__: ClassVar[str] = "monitoring_alert_rule"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    metric: str = Field(max_length=100)
    comparison: str = Field(default=">", max_length=2)
    threshold: float = 0.0
    window_seconds: int = 300
    cooldown_seconds: int = 1800
    fire_on_no_data: bool = False
    enabled: bool = True
    notifiers: list[dict[str, Any]] = Field(default_factory=lambda: [{"kind": "log"}], sa_type=JSON)
    state: str = Field(default=OK, max_length=8)
    since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_value: float | None = None
    last_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    evaluated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    def __str__(self) -> str:
        return self.name

    @classmethod
    def validated(cls, **values: Any) -> AlertRule:
        """A new rule of ``values``, checked (save it with ``await rule.save()``).

        Raises:
            AlertRuleError: a field is wrong (an unknown metric names its close match).
        """
        rule = cls(**values)
        rule.check()
        return rule

    def check(self) -> None:
        """Check every field.

        Raises:
            AlertRuleError: the first field that is wrong.
        """
        check_values(
            {
                "name": self.name,
                "metric": self.metric,
                "comparison": self.comparison,
                "window_seconds": self.window_seconds,
                "cooldown_seconds": self.cooldown_seconds,
                "notifiers": self.notifiers,
            }
        )

    def holds(self, value: float | None) -> bool:
        """Whether the rule's condition holds for ``value`` (None: no observation)."""
        if value is None:
            return self.fire_on_no_data
        return COMPARISONS[self.comparison](value, self.threshold)

    def describe(self) -> str:
        """``error_rate > 0.05 over 300 s``."""
        return f"{self.metric} {self.comparison} {self.threshold:g} over {self.window_seconds} s"


def not_reporting_rule(window_seconds: int = 300) -> AlertRule:
    """The built-in rule: fewer than one process reported metrics in the window (or none could be read)."""
    return AlertRule(
        name=NOT_REPORTING,
        metric="processes",
        comparison="<",
        threshold=1.0,
        window_seconds=window_seconds,
        cooldown_seconds=3600,
        fire_on_no_data=True,
        notifiers=[{"kind": "log"}],
    )
