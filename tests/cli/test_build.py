"""``fastmango build``: the Dockerfile, .dockerignore and compose.yaml of a fresh project, checked by reading them."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import pytest
import yaml

from fastmango.cli.deploy import checks, inspect_project
from fastmango.cli.deploy.spec import APP_UID, READY_PATH
from fastmango.core.project import find_project
from fastmango.core.system_checks import Finding
from tests.cli.deploy_support import (
    assert_no_secrets,
    dockerfile_stages,
    dot_env_secret,
    exec_form,
    invoke,
    new_project,
    validate_compose,
)

BUILD_FILES = ("Dockerfile", ".dockerignore", "compose.yaml")


def build(*args: str) -> str:
    result = invoke("build", "--skip-checks", *args)
    assert result.exit_code == 0, result.output
    return result.output


def test_build_writes_the_dockerfile_dockerignore_and_compose_file(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    output = build()
    for name in BUILD_FILES:
        assert (root / name).is_file(), name
        assert f"Wrote {name}" in output
    assert "docker compose -f compose.yaml --env-file .env.prod up -d --build" in output


def test_the_dockerfile_is_multi_stage_slim_non_root_compiled_and_checked_on_readiness(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    build()
    text = (root / "Dockerfile").read_text()
    stages = dockerfile_stages(text)
    assert len(stages) >= 2
    python = inspect_project(find_project()).python
    for stage in stages:
        base = stage[0][1].split()[0]
        assert base == "python:${PYTHON_VERSION}-slim"
    assert f"ARG PYTHON_VERSION={python}" in text
    builder, runtime = stages[0], stages[-1]
    assert any(kw == "RUN" and "compileall" in args for kw, args in builder)
    # The runtime stage copies what the builder made and installs nothing (no compiler, no pip).
    assert not any(kw == "RUN" and ("pip install" in args or "apt-get" in args) for kw, args in runtime)
    assert any(kw == "COPY" and args.startswith("--from=builder /opt/venv") for kw, args in runtime)
    users = [args for kw, args in runtime if kw == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert users[-1] == f"{APP_UID}:{APP_UID}"
    env = " ".join(args for kw, args in runtime if kw == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "FASTMANGO_ENV=prod" in env
    healthcheck = next(args for kw, args in runtime if kw == "HEALTHCHECK")
    probe = exec_form(healthcheck.split(" CMD ", 1)[1])
    assert probe[:2] == ["python", "-c"] and READY_PATH in probe[2]
    assert exec_form(next(args for kw, args in runtime if kw == "CMD")) == ["fastmango", "serve"]
    assert next(args for kw, args in runtime if kw == "EXPOSE") == "8000"
    assert_no_secrets(text, dot_env_secret(root))


def test_the_dockerfile_installs_what_the_project_locks(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    assert "RUN pip install ." in invoke("build", "--skip-checks", "--dry-run").output  # pyproject only: not locked
    (root / "requirements.txt").write_text("fastmango[postgres,redis]==0.1.0\n")
    output = invoke("build", "--skip-checks", "--dry-run").output
    assert "RUN pip install -r requirements.txt" in output and "COPY requirements.txt" in output
    (root / "uv.lock").write_text("version = 1\n")
    output = invoke("build", "--skip-checks", "--dry-run").output
    assert "uv sync --locked --no-dev --no-install-project" in output and "COPY pyproject.toml uv.lock" in output


def test_python_version_file_pins_the_base_image(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    (root / ".python-version").write_text("3.13.1\n")
    build()
    assert "ARG PYTHON_VERSION=3.13" in (root / "Dockerfile").read_text()


def test_dockerignore_leaves_out_venvs_env_files_databases_caches_and_git(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    build()
    patterns = {line for line in (root / ".dockerignore").read_text().splitlines() if not line.startswith("#")}
    assert {".venv", ".env", ".env.*", "db.sqlite3", "__pycache__", ".git", "node_modules", ".pytest_cache"} <= patterns


def test_compose_file_validates_and_orders_migrate_before_web_on_healthy_services(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    build()
    compose = validate_compose(root / "compose.yaml")
    services = compose["services"]
    assert set(services) == {"migrate", "web", "db", "redis"}  # no tasks: no worker
    assert services["migrate"]["command"] == ["fastmango", "migrate"]
    assert services["migrate"]["restart"] == "no"
    web = services["web"]["depends_on"]
    assert web["migrate"] == {"condition": "service_completed_successfully"}
    assert web["db"] == {"condition": "service_healthy"} and web["redis"] == {"condition": "service_healthy"}
    assert services["migrate"]["depends_on"]["db"] == {"condition": "service_healthy"}
    for name in ("db", "redis"):
        assert services[name]["healthcheck"]["test"]
    environment = services["web"]["environment"]
    assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert "${POSTGRES_PASSWORD:?" in environment["DATABASE_URL"]
    assert_no_secrets((root / "compose.yaml").read_text(), dot_env_secret(root))


def test_a_project_with_tasks_gets_a_worker_that_waits_for_migrate(tmp_path: Path) -> None:
    root = new_project(tmp_path, tasks=True)
    build()
    services = validate_compose(root / "compose.yaml")["services"]
    worker = services["worker"]
    assert worker["command"] == ["fastmango", "worker"]
    assert worker["healthcheck"] == {"disable": True}  # the image's HEALTHCHECK asks an HTTP server
    assert worker["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "nightly_report: 0 3 * * *" in (root / "compose.yaml").read_text()


def test_dry_run_prints_the_files_and_writes_nothing(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    before = sorted(path.name for path in root.iterdir())
    output = build("--dry-run")
    assert sorted(path.name for path in root.iterdir()) == before
    assert "--- Dockerfile (would be written)" in output and "FROM python:" in output
    assert "--- compose.yaml (would be written)" in output


def test_an_existing_file_is_not_overwritten_without_force(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    (root / "Dockerfile").write_text("FROM scratch\n")
    result = invoke("build", "--skip-checks")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: Dockerfile already exists in {root}; pass --force to overwrite them"]
    assert (root / "Dockerfile").read_text() == "FROM scratch\n"
    assert not (root / "compose.yaml").exists()  # nothing written when one file would be clobbered
    build("--force")
    assert "FROM python:" in (root / "Dockerfile").read_text()


def test_output_writes_elsewhere(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    build("--output", str(tmp_path / "out"))
    assert (tmp_path / "out" / "Dockerfile").is_file()
    assert not (root / "Dockerfile").exists()


def test_deploy_check_errors_stop_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = new_project(tmp_path)
    error = Finding("fastmango.E900", "error", "DEBUG is on in prod", hint="set DEBUG=false")
    monkeypatch.setattr(checks, "deploy_findings", lambda project: [error])
    result = invoke("build")
    assert result.exit_code == 1
    assert "fastmango.E900" in result.output and "--skip-checks" in result.output
    assert not (root / "Dockerfile").exists()
    result = invoke("build", "--skip-checks")
    assert result.exit_code == 0 and (root / "Dockerfile").exists()


def test_deploy_checks_that_pass_let_the_build_go_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = new_project(tmp_path)
    seen = []
    monkeypatch.setattr(checks, "deploy_findings", lambda project: seen.append(project.root) or [])
    result = invoke("build")
    assert result.exit_code == 0, result.output
    assert seen == [root] and "Deploy checks passed." in result.output
    assert (root / "Dockerfile").exists()


def test_the_compose_file_parses_as_plain_yaml_with_the_anchor_merged(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    build()
    document = yaml.safe_load((root / "compose.yaml").read_text())
    assert document["services"]["web"]["image"] == "mysite:latest"
    assert document["services"]["web"]["environment"]["FASTMANGO_ENV"] == "prod"


def test_the_real_deploy_checks_read_the_production_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastmango.core.settings import DOTENV_VARIABLE

    root = new_project(tmp_path, "checkedsite")
    # The checks load the app (its root goes on sys.path) and switch this process to the production settings;
    # monkeypatch puts them back after, and the project's modules are forgotten.
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("FASTMANGO_ENV", "prod")
    monkeypatch.setenv(DOTENV_VARIABLE, "1")
    try:
        result = invoke("build")
        assert result.exit_code == 1  # .env's development key does not count for prod, and there is no other
        assert "SECRET_KEY" in result.output and not (root / "Dockerfile").exists()
        (root / ".env.prod").write_text(f"SECRET_KEY={secrets.token_urlsafe(48)}\n")
        result = invoke("build")
        assert result.exit_code == 0, result.output
        assert "Deploy checks passed." in result.output and (root / "Dockerfile").exists()
    finally:
        for name in [name for name in sys.modules if name.split(".")[0] == "checkedsite"]:
            del sys.modules[name]
