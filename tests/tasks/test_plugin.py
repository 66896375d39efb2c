"""The task plugin: the backend follows the settings, and every app has it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fastmango import FastMango, Settings
from fastmango.core.errors import ImproperlyConfigured
from fastmango.core.settings import DEFAULT_PLUGINS
from fastmango.tasks.backends import backend_name, configure, get_backend
from fastmango.tasks.inline import InlineBackend
from fastmango.testing import app_client


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, "inline"),
        ({"redis_url": "redis://127.0.0.1:6379/15"}, "arq"),
        ({"redis_url": "redis://127.0.0.1:6379/15", "task_backend": "inline"}, "inline"),
        ({"task_backend": "inline"}, "inline"),
    ],
)
def test_the_settings_choose_the_backend(values: dict[str, str], expected: str) -> None:
    settings = Settings(**values)  # type: ignore[arg-type]
    assert backend_name(settings) == expected
    assert configure(settings).name == expected
    assert get_backend().name == expected


def test_arq_without_a_redis_url_names_the_fix() -> None:
    with pytest.raises(ImproperlyConfigured, match="FASTMANGO_TASK_BACKEND=arq needs REDIS_URL"):
        backend_name(Settings(task_backend="arq"))


def test_the_backend_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMANGO_TASK_BACKEND", "inline")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")
    assert backend_name(Settings()) == "inline"


def test_every_app_has_the_task_plugin() -> None:
    assert "fastmango.tasks.plugin:TasksPlugin" in DEFAULT_PLUGINS


async def test_the_app_configures_the_backend_and_mounts_the_status_api(tmp_path: Path) -> None:
    app = FastMango(settings=Settings(database_url=f"sqlite:///{tmp_path}/db.sqlite3"), configure_logging=False)
    assert "tasks" in [p.name for p in app.plugins]
    async with app_client(app) as client:
        assert isinstance(app.state.tasks, InlineBackend)
        assert get_backend() is app.state.tasks
        paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/tasks/jobs", "/tasks/jobs/{job_id}", "/tasks/stats"} <= set(paths)
    assert paths["/tasks/stats"]["get"]["operationId"] == "tasks_stats"


def test_without_arq_installed_the_error_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['arq'] = None  # as if it were not installed\n"
        "from fastmango import Settings\n"
        "from fastmango.tasks.backends import configure\n"
        "try:\n"
        "    configure(Settings(redis_url='redis://127.0.0.1:6379/15'))\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == (
        'MissingDependency arq is not installed; it is needed here: pip install "fastmango[tasks]"'
    ), result.stderr
