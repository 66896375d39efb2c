"""``fastmango check`` (fastmango/cli/check_commands.py) on a ``fastmango init`` project: output, JSON, exit codes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

FASTMANGO = str(Path(sys.executable).parent / "fastmango")
KEY = "k" * 48
SHADOWED_ROUTES = """

@router.get("/posts/{pk}")
async def post(pk: str) -> dict[str, str]:
    return {}


@router.get("/posts/latest")
async def latest() -> dict[str, str]:
    return {}
"""
NOTE_MODEL = """
from fastmango.db import Field, Model


class Note(Model, table=True):
    id: int | None = Field(default=None, primary_key=True)
    text: str = ""
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh project, migrated once (each test copies it)."""
    folder = tmp_path_factory.mktemp("check")
    subprocess.run([FASTMANGO, "init", "site_check"], cwd=folder, check=True, capture_output=True, timeout=60)
    root = folder / "site_check"
    run(root, "migrate", check=True)
    return root


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(template, tmp_path / "site_check"))


def environment(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("FASTMANGO_", "OPENAI_"))}
    return {**env, "DATABASE_URL": "sqlite:///./test.sqlite3", "SECRET_KEY": KEY, **extra}


def run(root: Path, *args: str, check: bool = False, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FASTMANGO, *args], cwd=root, capture_output=True, text=True, env=environment(**env), timeout=120, check=check
    )


def findings(root: Path, **env: str) -> list[dict[str, str]]:
    result = run(root, "check", "--json", **env)
    found: list[dict[str, str]] = json.loads(result.stdout)
    assert result.returncode == (1 if any(f["level"] == "error" for f in found) else 0), result.stderr
    return found


def test_a_fresh_migrated_project_has_no_issues(project: Path) -> None:
    result = run(project, "check")
    assert (result.returncode, result.stdout.strip()) == (0, "No issues found."), result.stderr


def test_unapplied_migrations_are_a_warning_and_exit_0(project: Path) -> None:
    (project / "test.sqlite3").unlink()
    result = run(project, "check")
    assert result.returncode == 0, result.stderr
    assert "models:\n  fastmango.W101 (warning)" in result.stdout
    assert "the database lacks 3 migration(s) (fastmango_auth:0001_initial" in result.stdout
    assert "      fix: run fastmango migrate" in result.stdout
    assert result.stdout.rstrip().endswith("1 warning.")


def test_a_model_without_a_migration_is_an_error_and_exit_1(project: Path) -> None:
    with (project / "site_check" / "models.py").open("a") as models:
        models.write(NOTE_MODEL)
    result = run(project, "check")
    assert result.returncode == 1
    assert "fastmango.E101 (error): the models have changes that are in no migration (create table note)" in (
        result.stdout
    )
    run(project, "makemigrations", check=True)
    run(project, "migrate", check=True)
    assert findings(project) == []


def test_a_migrated_table_without_its_permissions_is_a_warning(project: Path) -> None:
    with sqlite3.connect(project / "test.sqlite3") as database:
        database.execute("DELETE FROM auth_permission WHERE codename LIKE 'auth_group.%'")
    found = findings(project)
    assert [(f["id"], f["obj"], f["area"]) for f in found] == [("fastmango.W103", "auth_group", "models")]
    assert "auth_group.view, auth_group.add, auth_group.change, auth_group.delete" in found[0]["message"]
    run(project, "migrate", check=True)  # the fix the hint names
    assert findings(project) == []


def test_a_shadowed_route_is_reported_and_json_lists_each_finding(project: Path) -> None:
    with (project / "site_check" / "routes.py").open("a") as routes:
        routes.write(SHADOWED_ROUTES)
    assert findings(project) == [
        {
            "id": "fastmango.W201",
            "level": "warning",
            "message": "GET /posts/latest is unreachable: /posts/{pk}, declared before it, answers the same requests",
            "hint": "declare /posts/latest before /posts/{pk} (or give /posts/{pk}'s parameter a type, e.g. {pk:int}, "
            "that does not match it)",
            "obj": "/posts/latest",
            "area": "routes",
        }
    ]


def test_prod_settings_are_reported_although_the_app_refuses_to_start(project: Path) -> None:
    result = run(project, "check", FASTMANGO_ENV="prod", DEBUG="true", SECRET_KEY="short")
    assert result.returncode == 1
    assert result.stdout.startswith("settings:\n  fastmango.E001 (error) [DEBUG]: DEBUG is on in the prod profile\n")
    assert "fastmango.E002 (error) [SECRET_KEY]: SECRET_KEY is shorter than 32 characters" in result.stdout
    assert "E000" not in result.stdout  # the refusal is what E001 says
    assert findings(project, FASTMANGO_ENV="prod", DEBUG="false") == []


def test_an_agent_with_an_unknown_tool_and_an_alias_without_its_key_are_errors(project: Path) -> None:
    with (project / "site_check" / "tools.py").open("a") as tools:
        tools.write('\nfrom fastmango.ai import agent\n\nagent("support", tools=["no_such_tool"])\n')
    found = findings(project, FASTMANGO_AI_MODELS='{"default": "test", "smart": "openai:gpt-4.1"}')
    # The app refuses to start on the alias (E304 says why), so the agents wait for the next run.
    assert [(f["id"], f["obj"]) for f in found] == [("fastmango.E304", "smart")]
    assert [(f["id"], f["obj"]) for f in findings(project)] == [("fastmango.E301", "support")]


def test_a_schedule_that_never_fires_is_an_error(project: Path) -> None:
    with (project / "site_check" / "tasks.py").open("a") as tasks:
        tasks.write('\nimport fastmango\n\n\n@fastmango.task(cron="0 0 30 2 *")\nasync def never(ctx): ...\n')
    result = run(project, "check")
    assert result.returncode == 1
    assert "tasks:\n  fastmango.E401 (error) [never]: task 'never': cron '0 0 30 2 *' never matches a date" in (
        result.stdout
    )


def test_a_module_that_fails_to_import_is_one_finding_naming_the_line(project: Path) -> None:
    with (project / "site_check" / "tools.py").open("a") as tools:
        tools.write("\nundefined_name\n")
    result = run(project, "check")
    assert result.returncode == 1
    assert "project:\n  fastmango.E000 (error): the app refuses to start: site_check/tools.py:" in result.stdout
    assert "NameError: name 'undefined_name' is not defined" in result.stdout
