"""``fastmango check`` (fastmango/cli/check_commands.py) on a ``fastmango init`` project: output, JSON, exit codes."""

from __future__ import annotations

import json
import os
import re
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
    lacking = re.search(r"the database lacks (\d+) migration\(s\) \(([^)]*)\)", result.stdout)
    assert lacking is not None, result.stdout
    assert int(lacking[1]) == len(lacking[2].split(", ")) >= 4  # one per framework plugin with tables
    assert {"fastmango_auth:0001_initial", "fastmango_tasks:0001_initial"} <= set(lacking[2].split(", "))
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


TYPO_ROUTES = """
from fastmango.api import CRUDRouter
from fastmango.auth.models import Group

router.include_router(CRUDRouter(Group, prefix="/teams", filter_fields=["nme"], actions=["list", "gett"]))
"""
TYPO_TOOLS = """
from fastmango.ai import expose_model
from fastmango.auth.models import Group

expose_model(Group, search_fields=["nmae"], actions=["lsit"])
"""
TYPO_ADMIN = """
from fastmango import admin
from fastmango.auth.models import Group

admin.register(Group, list_display=["id", "nam"], ordering=["-idd"])
"""


def test_every_typo_in_the_declarations_is_a_finding_naming_the_close_match(project: Path) -> None:
    for module, typos in (("routes", TYPO_ROUTES), ("tools", TYPO_TOOLS), ("admin", TYPO_ADMIN)):
        with (project / "site_check" / f"{module}.py").open("a") as source:
            source.write(typos)
    result = run(project, "check")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "E000" not in result.stdout  # the app loaded: each typo is its own finding
    for line in [
        "  fastmango.E201 (error) [Group]: filter_fields of Group: 'nme': Group has no field 'nme' (did you mean "
        "'name'?); its fields are: id, name",
        "      fix: use 'name' instead of 'nme'",
        "  fastmango.E203 (error) [actions of the CRUDRouter of auth_group]: actions of the CRUDRouter of auth_group: "
        "no action 'gett' (did you mean 'get'?)",
        "      fix: use 'get' instead of 'gett'",
        "      fix: use 'name' instead of 'nmae'",
        "      fix: use 'list' instead of 'lsit'",
        "admin:\n  fastmango.E501 (error) [the admin of Group]: list_display of the admin of Group: Group has no field "
        "'nam' (did you mean 'name'?)",
        "      fix: use 'id' instead of 'idd'",
    ]:
        assert line in result.stdout
    found = findings(project)
    assert sorted(f["id"] for f in found) == [
        "fastmango.E201",
        "fastmango.E201",
        "fastmango.E203",
        "fastmango.E305",
        "fastmango.E501",
        "fastmango.E501",
    ]


def test_a_typo_in_the_app_module_itself_is_a_finding_not_a_refusal(project: Path) -> None:
    with (project / "site_check" / "app.py").open("a") as app_module:
        app_module.write(
            "\nfrom fastmango.api import CRUDRouter\nfrom fastmango.auth.models import Group\n\n"
            'app.include_router(CRUDRouter(Group, prefix="/teams", select_related=["nmae"]))\n'
        )
    found = findings(project)
    assert [(f["id"], f["area"], f["obj"], f["hint"]) for f in found] == [
        ("fastmango.E202", "routes", "Group", "'nmae' is no relation of Group; use one of: permissions, users")
    ]
    assert found[0]["message"] == (
        "select_related of Group: 'nmae': Group has no relation 'nmae'; its relations are: permissions, users"
    )


def test_declarations_without_typos_give_no_declaration_finding(project: Path) -> None:
    clean = {
        "routes": TYPO_ROUTES.replace('"nme"', '"name"').replace('"gett"', '"get"'),
        "tools": TYPO_TOOLS.replace('"nmae"', '"name"').replace('"lsit"', '"list"'),
        "admin": TYPO_ADMIN.replace('"nam"', '"name"').replace('"-idd"', '"-id"'),
    }
    for module, source_text in clean.items():
        with (project / "site_check" / f"{module}.py").open("a") as source:
            source.write(source_text)
    assert findings(project) == []


def deploy_check(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``fastmango check --deploy`` with no SECRET_KEY in the environment (the project's settings files decide)."""
    variables = {key: value for key, value in environment(**env).items() if key != "SECRET_KEY"}
    return subprocess.run(
        [FASTMANGO, "check", "--deploy", *args], cwd=root, capture_output=True, text=True, env=variables, timeout=120
    )


def deploy_ids(root: Path, **env: str) -> list[str]:
    result = deploy_check(root, "--json", **env)
    found: list[dict[str, str]] = json.loads(result.stdout)
    assert result.returncode == (1 if any(f["level"] == "error" for f in found) else 0), result.stderr
    assert all(f["area"] == "deploy" for f in found if f["id"][10] == "9")
    return [f["id"] for f in found]


def test_check_deploy_reads_the_production_settings_and_exits_0_once_env_prod_is_good(project: Path) -> None:
    # A fresh project: its .env (with its generated key) stays on this machine, so production has no key.
    result = deploy_check(project)
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith(
        "settings:\n  fastmango.E002 (error) [SECRET_KEY]: SECRET_KEY is the default in the prod"
    )
    assert "deploy:\n  fastmango.W901 (warning) [REDIS_URL]: WEB_CONCURRENCY is not set" in result.stdout
    assert "  fastmango.W911 (warning) [DATABASE_URL]: the database is SQLite" in result.stdout
    assert "  fastmango.I961 (info) [metrics_token]: METRICS_TOKEN is not set" in result.stdout
    assert "      fix: set FASTMANGO_METRICS_TOKEN to a generated secret" in result.stdout
    assert result.stdout.rstrip().endswith("1 error, 2 warnings, 1 info.")
    assert run(project, "check").returncode == 0  # without --deploy: the dev profile, nothing to say

    (project / ".env.prod").write_text("DEBUG=true\nSECRET_KEY=" + "k" * 48 + "\n")
    assert deploy_ids(project) == [
        "fastmango.E001",
        "fastmango.E902",
        "fastmango.W901",
        "fastmango.W911",
        "fastmango.I961",
    ]

    (project / ".env.prod").write_text(f"DEBUG=false\nSECRET_KEY={KEY_PROD}\nFASTMANGO_METRICS_TOKEN={KEY_PROD}x\n")
    assert deploy_ids(project, WEB_CONCURRENCY="1") == ["fastmango.W911"]  # a warning: exit 0
    # A profile the environment names is kept (with its own .env.<profile>): a staging deployment's.
    (project / ".env.test").write_text(f"DEBUG=true\nSECRET_KEY={KEY_PROD}\nFASTMANGO_METRICS=false\n")
    assert deploy_ids(project, FASTMANGO_ENV="test", WEB_CONCURRENCY="1") == ["fastmango.E901", "fastmango.W911"]


KEY_PROD = "Zq3v9Lw2Kp8Xr5Tn1Hc7Bm4Fy6Dj0Gs_Ua-Ve2Wi9Oo3Pl"
