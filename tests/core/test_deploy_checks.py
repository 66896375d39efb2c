"""The deploy checks (``fastmango check --deploy``): fastmango/core/deploy_checks.py and those of db, auth, tasks,
ai, devtools and monitoring. Each finding fires on a bad setting and not on the good production configuration."""

from __future__ import annotations

import inspect
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.middleware.cors import CORSMiddleware

from fastmango import FastMango, Settings
from fastmango.core.deploy_checks import secret_key_weakness
from fastmango.core.redis import redis_client
from fastmango.core.system_checks import CheckContext, Finding, area_of, registered, run_checks, run_checks_now
from fastmango.tasks import Task, task
from fastmango.tasks.definition import _registry, unregister
from fastmango.tasks.heartbeat import Heartbeat
from fastmango.testing import redis_url_or_skip

KEY = secrets.token_urlsafe(48)


def production(**overrides: Any) -> Settings:
    """A complete good production configuration, with ``overrides``."""
    values: dict[str, Any] = {
        "env": "prod",
        "debug": False,
        "secret_key": KEY,
        "database_url": "postgresql://app:password@db.internal:5432/app",
        "redis_url": "redis://127.0.0.1:6379/15",
        "forwarded_allow_ips": "10.0.0.0/8",
        "metrics_token": secrets.token_urlsafe(32),
        "ai_models": {"default": "test", "smart": "openai:gpt-4.1"},
        "ai_openai_api_key": "sk-test",
        "ai_budgets": [{"scope": "user", "window": "day", "max_tokens": 200_000}],
    }
    return Settings(**(values | overrides))


async def deploy_findings(settings: Settings, app: Any = None) -> list[Finding]:
    """What the deploy checks alone find (a check that raises fails the test)."""
    context = CheckContext(settings, app)
    found: list[Finding] = []
    for check in registered(deploy=True):
        if check.deploy:
            result = check.function(context)
            found.extend(await result if inspect.isawaitable(result) else result)
    return found


def ids(findings: list[Finding]) -> list[str]:
    return [finding.id for finding in findings]


@pytest.fixture(autouse=True)
def no_web_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)


@pytest.fixture(autouse=True)
def no_tasks_of_other_tests() -> Iterator[None]:
    """Only the tasks a test declares: the suite's modules declare theirs when they are collected."""
    before = dict(_registry)
    _registry.clear()
    _registry.update({name: t for name, t in before.items() if t.func.__module__.startswith("fastmango.")})
    yield
    _registry.clear()
    _registry.update(before)


@pytest.fixture
def job() -> Iterator[Task[None]]:
    """A declared task (removed afterwards)."""
    name = f"deploy_job_{uuid.uuid4().hex[:8]}"

    @task(name=name)
    async def declared(ctx: Any) -> None: ...

    yield declared
    unregister(name)


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    yield redis_url_or_skip()


async def live_worker(url: str, queue: str, job: Task[None]) -> tuple[Any, Heartbeat]:
    redis = redis_client(url)
    heartbeat = Heartbeat(queue, 5.0, [job.name])
    await heartbeat.beat(redis)
    return redis, heartbeat


async def test_a_complete_production_configuration_has_no_deploy_finding(
    redis_url: str, job: Task[None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "4")  # shared through Redis
    settings = production(redis_url=redis_url, task_queue_name=f"fm-deploy:{uuid.uuid4().hex[:8]}")
    app = FastMango(settings=settings, configure_logging=False)
    app.add_middleware(CORSMiddleware, allow_origins=["https://app.example.com"], allow_credentials=True)
    redis, heartbeat = await live_worker(redis_url, settings.task_queue_name, job)
    try:
        assert await deploy_findings(settings, app) == []
    finally:
        await heartbeat.remove(redis)
        await redis.aclose()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"env": "test", "debug": True}, "fastmango.E901"),
        ({"secret_key": "k" * 48}, "fastmango.E902"),
        ({"env": "test", "secret_key": "short"}, "fastmango.E902"),
        ({"database_url": "sqlite:///./db.sqlite3"}, "fastmango.W911"),
        ({"auth_cookie_secure": False}, "fastmango.W921"),
        ({"forwarded_allow_ips": "*"}, "fastmango.W922"),
        ({"ai_budgets": []}, "fastmango.W931"),
        ({"debug_panel": True}, "fastmango.W951"),
        ({"metrics_token": None}, "fastmango.I961"),
    ],
)
async def test_each_bad_setting_is_one_finding(overrides: dict[str, Any], expected: str) -> None:
    found = await deploy_findings(production(**overrides))
    assert ids(found) == [expected]
    assert found[0].hint and found[0].obj
    assert found[0].level == {"E": "error", "W": "warning", "I": "info"}[expected[10]]
    assert area_of(found[0]) == "deploy"


async def test_debug_and_a_short_key_in_prod_are_left_to_e001_and_e002() -> None:
    settings = production(debug=True, secret_key="short")
    assert await deploy_findings(settings) == []
    assert ids(run_checks_now(CheckContext(settings), ("settings",))) == ["fastmango.E001", "fastmango.E002"]


def test_a_key_must_be_long_and_not_typed() -> None:
    assert secret_key_weakness(secrets.token_hex(16)) is None  # 32 hex characters
    assert secret_key_weakness(secrets.token_urlsafe(32)) is None
    assert secret_key_weakness("k" * 48) == ("has 1 distinct character(s), fewer than 10: it was typed, not generated")
    assert secret_key_weakness("changeme" * 4) is not None
    assert secret_key_weakness("x" * 31) == "is shorter than 32 characters"


async def test_cors_for_every_origin_with_credentials_is_an_error() -> None:
    settings = production()
    app = FastMango(settings=settings, configure_logging=False)
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True)
    found = await deploy_findings(settings, app)
    assert ids(found) == ["fastmango.E903"]
    assert "allow_origins=[...]" in found[0].hint
    public = FastMango(settings=settings, configure_logging=False)
    public.add_middleware(CORSMiddleware, allow_origins=["*"])  # no cookies: a public API
    assert await deploy_findings(settings, public) == []


async def test_several_workers_without_redis_are_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = production(redis_url=None, ai_models={"default": "test"})
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    assert await deploy_findings(settings) == []
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    found = await deploy_findings(settings)
    assert ids(found) == ["fastmango.W901"]
    assert "WEB_CONCURRENCY is 4" in found[0].message
    assert found[0].hint.startswith("set REDIS_URL")
    monkeypatch.delenv("WEB_CONCURRENCY")  # fastmango serve's default: a worker per core
    assert "WEB_CONCURRENCY is not set" in (await deploy_findings(settings))[0].message


async def test_tasks_on_the_inline_backend_would_run_in_the_web_processes(
    job: Task[None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    settings = production(redis_url=None)
    found = await deploy_findings(settings)
    assert ids(found) == ["fastmango.W941"]
    assert job.name in found[0].message
    assert "fastmango worker" in found[0].hint
    unregister(job.name)
    assert await deploy_findings(settings) == []  # no task, nothing to run


async def test_tasks_on_arq_without_a_live_worker_are_a_warning(redis_url: str, job: Task[None]) -> None:
    settings = production(redis_url=redis_url, task_queue_name=f"fm-deploy:{uuid.uuid4().hex[:8]}")
    found = await deploy_findings(settings)
    assert ids(found) == ["fastmango.W942"]
    assert found[0].obj == settings.task_queue_name
    redis, heartbeat = await live_worker(redis_url, settings.task_queue_name, job)
    try:
        assert await deploy_findings(settings) == []
    finally:
        await heartbeat.remove(redis)
        await redis.aclose()
    assert ids(await deploy_findings(settings)) == ["fastmango.W942"]  # a worker that stopped is gone


async def test_a_redis_that_cannot_be_reached_to_look_for_workers_is_a_warning(job: Task[None]) -> None:
    found = await deploy_findings(production(redis_url="redis://127.0.0.1:1/0", redis_socket_timeout=0.5))
    assert ids(found) == ["fastmango.W943"]
    assert "cannot reach Redis at redis://127.0.0.1:1/0" in found[0].message


async def test_deploy_checks_run_only_when_asked() -> None:
    assert not any(check.deploy for check in registered())
    assert {check.area for check in registered(deploy=True) if check.deploy} == {"deploy"}
    settings = production(database_url="sqlite:///:memory:", debug_panel=True)
    assert ids(run_checks_now(CheckContext(settings))) == []
    found = ids(await run_checks(CheckContext(settings), ("settings",), deploy=True))
    assert found == ["fastmango.W911", "fastmango.W951"]


def test_fastmango_dotenv_0_reads_env_profile_but_not_the_local_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(f"SECRET_KEY={KEY}\nFASTMANGO_PROJECT_NAME=local\n")
    (tmp_path / ".env.prod").write_text("FASTMANGO_PROJECT_NAME=production\n")
    monkeypatch.setenv("FASTMANGO_ENV", "prod")
    assert (Settings().project_name, Settings().secret_key.get_secret_value()) == ("production", KEY)
    monkeypatch.setenv("FASTMANGO_DOTENV", "0")
    settings = Settings()
    assert (settings.project_name, secret_key_weakness(settings.secret_key.get_secret_value())) == (
        "production",
        "is the default",
    )
