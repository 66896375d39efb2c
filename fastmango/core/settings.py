"""Project settings: environment variables, ``.env`` files and the dev/test/prod profile.

A project subclasses :class:`Settings` to add its own fields::

    class Settings(fastmango.Settings):
        stripe_key: SecretStr | None = None     # read from FASTMANGO_STRIPE_KEY

The platform conventions ``DATABASE_URL``, ``REDIS_URL``, ``SECRET_KEY`` and ``DEBUG`` work unprefixed;
every field can also be set as ``FASTMANGO_<NAME>``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from fastmango.core.errors import ImproperlyConfigured

Profile = Literal["dev", "test", "prod"]

#: The secret key a fresh project runs with. ``prod`` refuses to start with it.
INSECURE_SECRET_KEY = "insecure-dev-key-do-not-use-in-production"
MIN_SECRET_KEY_LENGTH = 32
#: Set to ``0``, the local ``.env`` is not read (``.env.<profile>`` still is): ``fastmango check --deploy`` reads
#: the settings so, as production does (``.env`` is gitignored: it stays on the developer's machine).
DOTENV_VARIABLE = "FASTMANGO_DOTENV"

#: Built-in plugins, in start-up order. Listed by dotted path so that core never imports a higher layer.
DEFAULT_PLUGINS = [
    "fastmango.db.plugin:DatabasePlugin",
    "fastmango.auth.plugin:AuthPlugin",
    "fastmango.api.plugin:APIPlugin",
    "fastmango.tasks.plugin:TasksPlugin",
    "fastmango.ai.plugin:AIPlugin",
    "fastmango.admin.plugin:AdminPlugin",
    "fastmango.devtools.plugin:DevtoolsPlugin",
    "fastmango.monitoring.plugin:MonitoringPlugin",
]

_SUPPORTED_SCHEMES = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def _aliases(name: str, *platform: str) -> AliasChoices:
    return AliasChoices(name, f"FASTMANGO_{name.upper()}", *platform)


class AIBudget(BaseModel):
    """A cap on AI usage in a window (``settings.ai_budgets``).

    Attributes:
        scope: Whom it counts: each ``user``, each ``agent`` or each ``tool``.
        name: Only this username / agent / tool (None: every one of them, separately).
        window: ``day`` or ``month`` (UTC calendar windows).
        max_tokens: Input plus output tokens.
        max_cost: Cost in US dollars (requests of unknown price count nothing).
        max_calls: Model requests (user, agent) or tool calls (tool).
    """

    scope: Literal["user", "agent", "tool"]
    name: str | None = None
    window: Literal["day", "month"] = "day"
    max_tokens: int | None = None
    max_cost: float | None = None
    max_calls: int | None = None

    @property
    def label(self) -> str:
        return f"{self.scope}:{self.name or '*'}/{self.window}"


class Settings(BaseSettings):
    """Settings of a fastmango project.

    Values come, highest priority first, from keyword arguments, environment variables, ``.env.<profile>``,
    ``.env``, and the defaults below. The profile is ``FASTMANGO_ENV`` (``dev`` when unset).
    """

    model_config = SettingsConfigDict(
        env_prefix="FASTMANGO_",
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
    )

    env: Profile = Field("dev", validation_alias=_aliases("env"), description="dev, test or prod.")
    debug: bool | None = Field(
        None, validation_alias=_aliases("debug", "DEBUG"), description="Defaults to on in dev, off elsewhere."
    )
    secret_key: SecretStr = Field(SecretStr(INSECURE_SECRET_KEY), validation_alias=_aliases("secret_key", "SECRET_KEY"))
    project_name: str = Field("fastmango", validation_alias=_aliases("project_name"))
    database_url: str = Field(
        "sqlite+aiosqlite:///./db.sqlite3",
        validation_alias=_aliases("database_url", "DATABASE_URL"),
        description="SQLite (default) or PostgreSQL; postgres:// and sqlite:// are accepted and given async drivers.",
    )
    database_echo: bool = Field(False, validation_alias=_aliases("database_echo"))
    database_pool_size: int = Field(10, ge=1, validation_alias=_aliases("database_pool_size"))
    # PostgreSQL outages (docs/security.md: Outages): past these, requests answer 503 instead of waiting.
    database_connect_timeout: float = Field(
        5.0,
        gt=0,
        validation_alias=_aliases("database_connect_timeout"),
        description="Seconds to open a PostgreSQL connection (TCP and start-up) before the database counts as down.",
    )
    database_pool_timeout: float = Field(
        5.0,
        gt=0,
        validation_alias=_aliases("database_pool_timeout"),
        description="Seconds a request waits for a free pooled connection.",
    )
    # Query plans kept (fastmango.db.plans): one per query shape the app runs, a few KiB each; 0 turns caching off.
    database_plan_cache_size: int = Field(512, ge=0, validation_alias=_aliases("database_plan_cache_size"))
    database_statement_timeout: float = Field(
        30.0,
        ge=0,
        validation_alias=_aliases("database_statement_timeout"),
        description="Seconds a PostgreSQL statement may run (its statement_timeout; 0: no limit).",
    )
    redis_url: str | None = Field(None, validation_alias=_aliases("redis_url", "REDIS_URL"))
    redis_socket_timeout: float = Field(
        2.0,
        gt=0,
        validation_alias=_aliases("redis_socket_timeout"),
        description="Seconds a Redis connect or command may take before it counts as Redis being down.",
    )
    log_level: str = Field("INFO", validation_alias=_aliases("log_level"))
    log_format: Literal["auto", "text", "json"] = Field(
        "auto", validation_alias=_aliases("log_format"), description="auto: text in dev, JSON elsewhere."
    )
    logfire: bool = Field(False, validation_alias=_aliases("logfire"), description="Send logs and traces to Logfire.")
    plugins: list[str] = Field(default_factory=lambda: list(DEFAULT_PLUGINS), validation_alias=_aliases("plugins"))

    # auth
    auth_access_token_minutes: int = Field(15, ge=1, validation_alias=_aliases("auth_access_token_minutes"))
    auth_refresh_token_days: int = Field(7, ge=1, validation_alias=_aliases("auth_refresh_token_days"))
    auth_jwt_algorithm: Literal["HS256", "HS384", "HS512"] = Field(
        "HS256", validation_alias=_aliases("auth_jwt_algorithm"), description="The only algorithm tokens may use."
    )
    auth_login_max_failures: int = Field(
        5,
        ge=1,
        validation_alias=_aliases("auth_login_max_failures"),
        description="Failed logins per username from one client address (docs/auth.md: rate limiting).",
    )
    auth_login_max_failures_per_address: int = Field(
        50,
        ge=1,
        validation_alias=_aliases("auth_login_max_failures_per_address"),
        description="Failed logins from one client address, every username together (shared addresses, NAT).",
    )
    auth_login_max_failures_per_user: int = Field(
        100,
        ge=1,
        validation_alias=_aliases("auth_login_max_failures_per_user"),
        description="Failed logins per username from every address together (distributed guessing).",
    )
    auth_login_window_seconds: int = Field(300, ge=1, validation_alias=_aliases("auth_login_window_seconds"))
    auth_login_max_tracked: int = Field(
        100_000,
        ge=100,
        validation_alias=_aliases("auth_login_max_tracked"),
        description="Counters the in-process login limiter keeps at most (the oldest go first).",
    )
    auth_revocation_cache_seconds: int = Field(
        30,
        ge=0,
        validation_alias=_aliases("auth_revocation_cache_seconds"),
        description="Seconds Redis may remember that a token is not revoked (0: ask the database every time).",
    )
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=_aliases("forwarded_allow_ips", "FORWARDED_ALLOW_IPS"),
        description="Proxies (IPs or networks) whose X-Forwarded-For is believed; none by default.",
    )
    auth_cookie_secure: bool | None = Field(
        None, validation_alias=_aliases("auth_cookie_secure"), description="Defaults to on outside dev."
    )
    # production server and readiness (fastmango serve, /ready; docs/deploy.md)
    graceful_shutdown_seconds: int = Field(
        30,
        ge=0,
        validation_alias=_aliases("graceful_shutdown_seconds"),
        description="On SIGTERM, seconds fastmango serve lets open requests finish before closing them.",
    )
    ready_timeout_seconds: float = Field(
        0.5,
        gt=0,
        validation_alias=_aliases("ready_timeout_seconds"),
        description="Seconds each /ready check (database, Redis, worker) may take; they run concurrently.",
    )
    ready_require_worker: bool = Field(
        False,
        validation_alias=_aliases("ready_require_worker"),
        description="/ready answers 503 while no fastmango worker is alive (with arq; a warning otherwise).",
    )
    # request limits (docs/api.md: Limits)
    max_body_size: int = Field(
        1024 * 1024,
        ge=0,
        validation_alias=_aliases("max_body_size"),
        description="Bytes of a request body at most (413 above); a route's max_body_size= overrides it.",
    )
    api_max_search_length: int = Field(
        200, ge=1, validation_alias=_aliases("api_max_search_length"), description="Characters of ?search= at most."
    )
    api_history: bool = Field(
        True,
        validation_alias=_aliases("api_history"),
        description="Record every resource write (admin, API, AI tool, task) in the history table api_history.",
    )
    # admin (fastmango.admin)
    admin_path: str = Field(
        "/admin", validation_alias=_aliases("admin_path"), description="Where the admin is served (its API under /api)."
    )
    admin_assistant_model: str | None = Field(
        None,
        validation_alias=_aliases("admin_assistant_model"),
        description="The ai_models alias the admin's assistant runs on (None: the default alias, unless it is the "
        "offline test model; then the assistant is off).",
    )
    # developer tools (fastmango.devtools)
    debug_panel: bool | None = Field(
        None,
        validation_alias=_aliases("debug_panel"),
        description="Keep per-request records and serve the debug panel (None: in DEBUG; on in prod, only the "
        "requests of staff users are recorded). The panel is for staff users with debug.view.",
    )
    debug_panel_path: str = Field("/_debug", validation_alias=_aliases("debug_panel_path"))
    debug_panel_max_records: int = Field(
        200, ge=1, validation_alias=_aliases("debug_panel_max_records"), description="Records kept (newest first)."
    )
    debug_panel_store: Literal["auto", "memory", "redis"] = Field(
        "auto",
        validation_alias=_aliases("debug_panel_store"),
        description="auto: Redis when REDIS_URL is set (shared by every process), else this process's memory.",
    )
    debug_n_plus_one_threshold: int = Field(
        3,
        ge=2,
        validation_alias=_aliases("debug_n_plus_one_threshold"),
        description="A query repeated this many times in one request, job or agent run is reported as an N+1.",
    )
    # tasks (fastmango.tasks)
    task_backend: Literal["auto", "inline", "arq"] = Field(
        "auto", validation_alias=_aliases("task_backend"), description="auto: arq when REDIS_URL is set, else inline."
    )
    task_queue_name: str = Field("fastmango:queue", validation_alias=_aliases("task_queue_name"))
    # task monitor
    task_events: bool = Field(
        True,
        validation_alias=_aliases("task_events"),
        description="Record each job event (queued, started, succeeded, retried, failed, aborted) in tasks_job_event.",
    )
    task_events_retention_days: int = Field(
        14, ge=1, validation_alias=_aliases("task_events_retention_days"), description="Days job events are kept."
    )
    task_events_flush_seconds: float = Field(
        1.0,
        gt=0,
        validation_alias=_aliases("task_events_flush_seconds"),
        description="Seconds after the first unwritten job event before the buffered events are written.",
    )
    task_heartbeat_seconds: float = Field(
        5.0,
        gt=0,
        validation_alias=_aliases("task_heartbeat_seconds"),
        description="Seconds between two heartbeats of a worker (it counts as gone after three missed ones).",
    )

    # AI (fastmango.ai)
    ai_models: dict[str, str | list[str]] = Field(
        default_factory=lambda: {"default": "test"},  # type: ignore[arg-type]
        validation_alias=_aliases("ai_models"),
        description='Aliases to Pydantic AI model ids ("openai:gpt-4.1"); a list is a fallback chain.',
    )
    ai_openai_base_url: str | None = Field(
        None,
        validation_alias=_aliases("ai_openai_base_url", "OPENAI_BASE_URL"),
        description="An OpenAI-compatible server (Ollama, vLLM, LM Studio) for openai: models.",
    )
    ai_openai_api_key: SecretStr | None = Field(None, validation_alias=_aliases("ai_openai_api_key", "OPENAI_API_KEY"))
    ai_mcp: bool = Field(
        False, validation_alias=_aliases("ai_mcp"), description="Serve the tool registry over MCP at /mcp."
    )
    # MCP limits (docs/security.md: AI and MCP), per process.
    ai_mcp_idle_timeout: float = Field(
        60.0,
        gt=0,
        validation_alias=_aliases("ai_mcp_idle_timeout"),
        description="Seconds an MCP event stream may send nothing (pings aside) before it is closed.",
    )
    ai_mcp_max_streams_per_user: int = Field(
        10,
        ge=1,
        validation_alias=_aliases("ai_mcp_max_streams_per_user"),
        description="MCP requests and streams one user may have open at once (429 above).",
    )
    ai_mcp_max_anonymous_streams: int = Field(
        50,
        ge=0,
        validation_alias=_aliases("ai_mcp_max_anonymous_streams"),
        description="MCP requests and streams anonymous callers may have open at once, all together (429 above).",
    )
    ai_max_rows: int = Field(100, ge=1, validation_alias=_aliases("ai_max_rows"), description="Row cap of query tools.")
    ai_metering: bool = Field(
        True, validation_alias=_aliases("ai_metering"), description="Record model requests and tool calls in ai_usage."
    )
    ai_usage_flush_records: int = Field(
        100, ge=1, validation_alias=_aliases("ai_usage_flush_records"), description="Flush the usage buffer at N."
    )
    ai_usage_flush_seconds: float = Field(
        2.0, gt=0, validation_alias=_aliases("ai_usage_flush_seconds"), description="...and at most T seconds later."
    )
    ai_budgets: list[AIBudget] = Field(
        default_factory=list, validation_alias=_aliases("ai_budgets"), description="Token/cost/call caps (docs)."
    )
    ai_tool_calls_limit: int | None = Field(
        None, ge=1, validation_alias=_aliases("ai_tool_calls_limit"), description="Tool calls allowed per agent run."
    )
    ai_cache_ttl: float | None = Field(
        None,
        ge=0,
        validation_alias=_aliases("ai_cache_ttl"),
        description="Default seconds a model response is reused for (None: only agents with cache_ttl).",
    )

    # monitoring (fastmango.monitoring; docs/monitoring.md)
    metrics: bool = Field(
        True,
        validation_alias=_aliases("metrics"),
        description="Count requests, statements, jobs and AI usage; serve /metrics and the dashboard's overview.",
    )
    metrics_path: str = Field("/metrics", validation_alias=_aliases("metrics_path"))
    metrics_token: SecretStr | None = Field(
        None,
        validation_alias=_aliases("metrics_token"),
        description="A bearer secret for Prometheus scrapers of /metrics (staff with monitoring.view need none).",
    )
    metrics_flush_seconds: float = Field(
        5.0,
        gt=0,
        validation_alias=_aliases("metrics_flush_seconds"),
        description="Seconds between two flushes of a process's metrics to the shared store (Redis).",
    )
    metrics_slow_statement_ms: float = Field(
        100.0,
        ge=0,
        validation_alias=_aliases("metrics_slow_statement_ms"),
        description="A statement taking this long counts as slow, by shape, with its SQL.",
    )
    metrics_redis_prefix: str = Field(
        "fastmango:metrics",
        validation_alias=_aliases("metrics_redis_prefix"),
        description="The prefix of the metrics' Redis keys (apps sharing a Redis database need their own).",
    )
    # log stream
    logstream: bool = Field(
        True,
        validation_alias=_aliases("logstream"),
        description="Serve live logs to staff with monitoring.view (<admin_path>/api/monitoring/logs/...).",
    )
    logstream_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "WARNING",
        validation_alias=_aliases("logstream_level"),
        description="The lowest level streamed (the root logger's LOG_LEVEL applies first). WARNING by default: at "
        "INFO every request's access line goes through the stream, which costs about a fifth of a hello endpoint's "
        "req/s (tools/bench/MONITORING_RESULTS.md).",
    )
    logstream_recent: int = Field(
        500, ge=1, validation_alias=_aliases("logstream_recent"), description="Records kept for logs/recent."
    )
    logstream_client_queue: int = Field(
        1000,
        ge=1,
        validation_alias=_aliases("logstream_client_queue"),
        description="Events a viewer may have waiting; a viewer that falls further behind is disconnected.",
    )
    logstream_max_clients: int = Field(
        100, ge=1, validation_alias=_aliases("logstream_max_clients"), description="Viewers one process serves."
    )
    logstream_ping_seconds: float = Field(
        15.0, gt=0, validation_alias=_aliases("logstream_ping_seconds"), description="Seconds between heartbeats."
    )
    logstream_send_timeout: float = Field(
        10.0,
        gt=0,
        validation_alias=_aliases("logstream_send_timeout"),
        description="Seconds one send to a viewer may stall before the viewer is disconnected.",
    )
    logstream_channel: str = Field(
        "fastmango:logs",
        validation_alias=_aliases("logstream_channel"),
        description="Redis pub/sub channel prefix (the database number is appended) and the recent list's prefix.",
    )
    logstream_retry_seconds: float = Field(
        5.0,
        gt=0,
        validation_alias=_aliases("logstream_retry_seconds"),
        description="After a Redis failure, seconds the stream serves this process's records only before retrying.",
    )
    # alerts (fastmango.monitoring.alerts; docs/monitoring.md: Alerts)
    alerts: bool = Field(
        True,
        validation_alias=_aliases("alerts"),
        description="Evaluate the enabled alert rules (monitoring_alert_rule) in the app's processes (needs metrics).",
    )
    alerts_interval_seconds: float = Field(
        30.0,
        gt=0,
        validation_alias=_aliases("alerts_interval_seconds"),
        description="Seconds between two evaluations of the rules (one process evaluates: a Redis lock).",
    )
    alerts_lock_key: str = Field(
        "fastmango:alerts:evaluator",
        validation_alias=_aliases("alerts_lock_key"),
        description="The Redis key of the evaluator's lock (apps sharing a Redis database need their own).",
    )
    alerts_delivery_retries: int = Field(
        4, ge=0, validation_alias=_aliases("alerts_delivery_retries"), description="Retries of a failed notification."
    )
    alerts_delivery_backoff: float = Field(
        2.0,
        ge=0,
        validation_alias=_aliases("alerts_delivery_backoff"),
        description="Seconds before the first retry of a notification; each further retry waits twice as long.",
    )
    alerts_delivery_timeout: float = Field(
        10.0,
        gt=0,
        validation_alias=_aliases("alerts_delivery_timeout"),
        description="Seconds one webhook POST or SMTP exchange may take.",
    )
    alerts_smtp_host: str | None = Field(
        None, validation_alias=_aliases("alerts_smtp_host"), description="The SMTP server of email notifiers."
    )
    alerts_smtp_port: int = Field(25, ge=1, le=65535, validation_alias=_aliases("alerts_smtp_port"))
    alerts_smtp_from: str = Field("fastmango@localhost", validation_alias=_aliases("alerts_smtp_from"))
    alerts_smtp_username: str | None = Field(None, validation_alias=_aliases("alerts_smtp_username"))
    alerts_smtp_password: SecretStr | None = Field(None, validation_alias=_aliases("alerts_smtp_password"))
    alerts_smtp_starttls: bool | None = Field(
        None,
        validation_alias=_aliases("alerts_smtp_starttls"),
        description="STARTTLS: True requires it, False never, None (default) when the server offers it.",
    )
    alerts_smtp_tls: bool = Field(
        False, validation_alias=_aliases("alerts_smtp_tls"), description="Implicit TLS from the start (port 465)."
    )

    password_argon2_time_cost: int = Field(3, ge=1, validation_alias=_aliases("password_argon2_time_cost"))
    password_argon2_memory_kib: int = Field(65536, ge=8, validation_alias=_aliases("password_argon2_memory_kib"))

    def __init__(self, **values: Any) -> None:
        if "_env_file" not in values:
            profile = values.get("env") or os.environ.get("FASTMANGO_ENV") or _profile_from_dotenv() or "dev"
            values["_env_file"] = (".env", f".env.{profile}") if _reads_dotenv() else (f".env.{profile}",)
        super().__init__(**values)

    @field_validator("database_url")
    @classmethod
    def _normalize_database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _parse_forwarded_allow_ips(cls, value: Any) -> Any:
        # uvicorn's FORWARDED_ALLOW_IPS form: "10.0.0.1,10.1.0.0/16" (a JSON list works too).
        if isinstance(value, str):
            value = json.loads(value) if value.strip().startswith("[") else value.split(",")
        if not isinstance(value, list):
            return value
        entries = [str(item).strip() for item in value if str(item).strip()]
        for entry in entries:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"has {entry!r}, which is not an IP address, a network or *") from None
        return entries

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"}:
            raise ValueError("must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG")
        return level

    @model_validator(mode="after")
    def _resolve_debug(self) -> Settings:
        if self.debug is None:
            self.debug = self.env == "dev"
        return self

    def check(self) -> None:
        """Refuse configurations that must not run. Raises :class:`ImproperlyConfigured` naming the setting."""
        if self.env != "prod":
            return
        if self.debug:
            raise ImproperlyConfigured(
                "DEBUG is on in the prod profile: set DEBUG=false (or FASTMANGO_ENV=dev for local work)"
            )
        key = self.secret_key.get_secret_value()
        if key == INSECURE_SECRET_KEY or len(key) < MIN_SECRET_KEY_LENGTH:
            raise ImproperlyConfigured(
                f"SECRET_KEY is not set to a real secret for the prod profile: set SECRET_KEY to a random string of "
                f"at least {MIN_SECRET_KEY_LENGTH} characters, e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite."""
        return self.database_url.startswith("sqlite")

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, (mask_url(value) if name in {"database_url", "redis_url"} and value else value)


def normalize_database_url(url: str) -> str:
    """Give a database URL its async driver (``postgres://`` -> ``postgresql+asyncpg://``).

    Raises:
        ValueError: the URL is not SQLite or PostgreSQL, or is not a URL at all.
    """
    match = re.match(r"^([a-zA-Z0-9+]+)://(.*)$", url.strip())
    if not match:
        raise ValueError(
            "is not a database URL; use e.g. sqlite:///./db.sqlite3 or postgresql://user:password@host:5432/name"
        )
    scheme, rest = match.groups()
    driver = _SUPPORTED_SCHEMES.get(scheme.lower())
    if driver is None:
        raise ValueError(f"uses the unsupported scheme {scheme!r}; fastmango supports sqlite:// and postgresql://")
    if driver.startswith("postgresql") and not urlsplit(url).hostname and "host=" not in rest:
        raise ValueError("has no host; use postgresql://user:password@host:5432/name")
    return f"{driver}://{rest}"


def mask_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***`` so that it can be logged."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad setting, for CLI output and start-up failures."""
    problems = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or "settings"
        env_name = name.upper() if name in {"database_url", "redis_url", "secret_key", "debug"} else name
        problems.append(f"{env_name} {item['msg'].removeprefix('Value error, ')}")
    return "invalid settings: " + "; ".join(problems)


def _reads_dotenv() -> bool:
    return os.environ.get(DOTENV_VARIABLE, "1").strip().lower() not in {"0", "false", "no", "off"}


def _profile_from_dotenv() -> str | None:
    path = Path(".env")
    if not _reads_dotenv() or not path.is_file():
        return None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip().removeprefix("export ").strip() == "FASTMANGO_ENV":
            return value.strip().strip("'\"") or None
    return None
