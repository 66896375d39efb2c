"""``fastmango deploy --target ...``: each platform's files parse and validate, and its CLI runs or is printed."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import pytest
import yaml

from fastmango.cli.deploy import TARGETS
from tests.cli.deploy_support import (
    assert_no_secrets,
    dot_env_secret,
    invoke,
    new_project,
    validate_compose,
    validate_kubernetes,
)

TARGET_FILES = {
    "fly": ["fly.toml"],
    "render": ["render.yaml"],
    "railway": ["railway.json"],
    "k8s": ["k8s/migrate-job.yaml", "k8s/web.yaml"],
    "compose": ["compose.yaml"],
}


@pytest.fixture
def no_platform_clis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH holds only an empty folder: no flyctl, render, railway, kubectl or docker."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return empty


def deploy(target: str, *args: str) -> str:
    result = invoke("deploy", "--target", target, "--skip-checks", *args)
    assert result.exit_code == 0, result.output
    return result.output


def generated(root: Path) -> list[Path]:
    names = {"fly.toml", "render.yaml", "railway.json", "railway.worker.json", "compose.yaml", "Dockerfile"}
    return [path for path in root.rglob("*") if path.is_file() and (path.name in names or path.parent.name == "k8s")]


@pytest.mark.usefixtures("no_platform_clis")
def test_fly_toml_migrates_as_the_release_command_and_checks_readiness(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    deploy("fly")
    config = tomllib.loads((root / "fly.toml").read_text())
    assert config["app"] == "mysite"
    assert config["deploy"]["release_command"] == "fastmango migrate"
    service = config["http_service"]
    assert service["internal_port"] == 8000 and service["force_https"] is True
    assert [check["path"] for check in service["checks"]] == ["/ready"]
    assert "processes" not in config and "processes" not in service  # no tasks: no worker group
    assert (root / "Dockerfile").is_file() and (root / ".dockerignore").is_file()  # what fly deploy builds


@pytest.mark.usefixtures("no_platform_clis")
def test_render_yaml_has_the_pre_deploy_migration_a_generated_secret_a_database_and_key_value(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    deploy("render")
    blueprint = yaml.safe_load((root / "render.yaml").read_text())
    services = {service["name"]: service for service in blueprint["services"]}
    web = services["mysite-web"]
    assert web["type"] == "web" and web["runtime"] == "docker"
    assert web["preDeployCommand"] == "fastmango migrate" and web["healthCheckPath"] == "/ready"
    assert services["mysite-redis"]["type"] == "keyvalue"
    assert [database["name"] for database in blueprint["databases"]] == ["mysite-db"]
    env = {var.get("key"): var for var in web["envVars"]}
    assert env["DATABASE_URL"]["fromDatabase"] == {"name": "mysite-db", "property": "connectionString"}
    assert env["REDIS_URL"]["fromService"]["name"] == "mysite-redis"
    group = blueprint["envVarGroups"][0]["envVars"]
    assert {"key": "SECRET_KEY", "generateValue": True} in group
    assert not [service for service in blueprint["services"] if service["type"] in {"worker", "cron"}]


@pytest.mark.usefixtures("no_platform_clis")
def test_railway_json_starts_the_server_and_checks_readiness(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    deploy("railway")
    config = json.loads((root / "railway.json").read_text())
    assert config["build"]["builder"] == "DOCKERFILE"
    assert config["deploy"]["startCommand"] == "fastmango serve"
    assert config["deploy"]["healthcheckPath"] == "/ready"
    assert config["deploy"]["preDeployCommand"] == ["fastmango migrate"]
    assert not (root / "railway.worker.json").exists()


@pytest.mark.usefixtures("no_platform_clis")
def test_kubernetes_manifests_validate_and_probe_readiness_and_liveness(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    deploy("k8s")
    web = validate_kubernetes(root / "k8s/web.yaml")
    job = validate_kubernetes(root / "k8s/migrate-job.yaml")
    assert [doc["kind"] for doc in web] == ["Deployment", "Service", "HorizontalPodAutoscaler"]
    assert [doc["kind"] for doc in job] == ["Job"]
    assert not (root / "k8s/worker.yaml").exists()
    container = web[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert web[0]["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    secret_refs = [var["valueFrom"]["secretKeyRef"] for var in container["env"] if "valueFrom" in var]
    assert {ref["key"] for ref in secret_refs} == {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"}
    assert all(ref["name"] == "mysite-env" for ref in secret_refs)
    assert not [var for var in container["env"] if var["name"] in {"SECRET_KEY", "DATABASE_URL"} and "value" in var]
    assert job[0]["spec"]["template"]["spec"]["containers"][0]["command"] == ["fastmango", "migrate"]
    assert web[2]["spec"]["scaleTargetRef"]["name"] == web[0]["metadata"]["name"]


@pytest.mark.usefixtures("no_platform_clis")
def test_compose_target_writes_a_valid_compose_file(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    deploy("compose")
    services = validate_compose(root / "compose.yaml")["services"]
    assert services["web"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


@pytest.mark.usefixtures("no_platform_clis")
def test_a_project_with_tasks_gets_a_worker_on_every_target(tmp_path: Path) -> None:
    root = new_project(tmp_path, tasks=True)
    for target in TARGETS:
        deploy(target)
    fly = tomllib.loads((root / "fly.toml").read_text())
    assert fly["processes"] == {"web": "fastmango serve", "worker": "fastmango worker"}
    assert fly["http_service"]["processes"] == ["web"]
    render = yaml.safe_load((root / "render.yaml").read_text())
    worker = next(service for service in render["services"] if service["type"] == "worker")
    assert worker["dockerCommand"] == "fastmango worker"
    assert {var.get("key") for var in worker["envVars"]} >= {"DATABASE_URL", "REDIS_URL"}
    assert json.loads((root / "railway.worker.json").read_text())["deploy"]["startCommand"] == "fastmango worker"
    (deployment,) = validate_kubernetes(root / "k8s/worker.yaml")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["command"] == ["fastmango", "worker"]
    assert "worker" in validate_compose(root / "compose.yaml")["services"]
    # The worker runs the cron schedules: each file names them, none adds a second scheduler.
    for name in ("fly.toml", "render.yaml", "k8s/worker.yaml", "compose.yaml"):
        assert "nightly_report" in (root / name).read_text(), name


@pytest.mark.usefixtures("no_platform_clis")
def test_no_generated_file_holds_a_secret(tmp_path: Path) -> None:
    root = new_project(tmp_path, tasks=True)
    for target in TARGETS:
        deploy(target)
    secret = dot_env_secret(root)
    files = generated(root)
    assert len(files) >= 9
    for path in files:
        assert_no_secrets(path.read_text(), secret)


def test_without_the_platform_cli_the_exact_commands_are_printed(tmp_path: Path, no_platform_clis: Path) -> None:
    new_project(tmp_path, tasks=True)
    output = deploy("fly")
    assert "flyctl or fly not found on PATH; deploy with:\n  fly deploy --config fly.toml\n" in output
    assert "fly apps create mysite" in output and "fly postgres attach mysite-db --app mysite" in output
    output = deploy("k8s", "--image", "registry.example.com/mysite:1.0")
    assert "docker and kubectl not found on PATH" in output
    for line in (
        "kubectl create secret generic mysite-env --from-env-file=.env.prod",
        "docker build -t registry.example.com/mysite:1.0 .",
        "kubectl apply -f k8s/migrate-job.yaml",
        "kubectl wait --for=condition=complete --timeout=300s job/mysite-migrate",
        "kubectl apply -f k8s/web.yaml -f k8s/worker.yaml",
    ):
        assert f"  {line}\n" in output, line
    assert "railway up --service mysite-worker --detach" in deploy("railway")
    assert "render blueprints validate render.yaml" in deploy("render")
    assert "docker compose -f compose.yaml --env-file .env.prod up -d --build" in deploy("compose")


def test_the_platform_cli_runs_when_it_is_on_path(tmp_path: Path, no_platform_clis: Path) -> None:
    root = new_project(tmp_path)
    calls = tmp_path / "calls.txt"
    fly = no_platform_clis / "flyctl"
    fly.write_text(f'#!/bin/sh\necho "$PWD $*" >> {calls}\n')
    fly.chmod(fly.stat().st_mode | stat.S_IEXEC)
    output = deploy("fly")
    assert "$ fly deploy --config fly.toml" in output
    assert calls.read_text().splitlines() == [f"{root} deploy --config fly.toml"]


def test_a_failing_platform_cli_fails_the_command_with_its_status(tmp_path: Path, no_platform_clis: Path) -> None:
    new_project(tmp_path)
    railway = no_platform_clis / "railway"
    railway.write_text("#!/bin/sh\nexit 3\n")
    railway.chmod(railway.stat().st_mode | stat.S_IEXEC)
    result = invoke("deploy", "--target", "railway", "--skip-checks")
    assert result.exit_code == 3
    assert "Error: `railway up --service mysite-web --detach` exited with status 3" in result.stderr


def test_dry_run_writes_and_runs_nothing(tmp_path: Path, no_platform_clis: Path) -> None:
    root = new_project(tmp_path, tasks=True)
    calls = tmp_path / "calls.txt"
    kubectl = no_platform_clis / "kubectl"
    kubectl.write_text(f"#!/bin/sh\necho ran >> {calls}\n")
    kubectl.chmod(kubectl.stat().st_mode | stat.S_IEXEC)
    before = sorted(os.listdir(root))
    for target in TARGETS:
        output = deploy(target, "--dry-run")
        for name in TARGET_FILES[target]:
            assert f"--- {name} (would be written)" in output
        assert "Deploy (dry run: nothing was written or run):" in output
    assert sorted(os.listdir(root)) == before
    assert not calls.exists()


@pytest.mark.usefixtures("no_platform_clis")
def test_an_existing_target_file_is_not_overwritten_without_force(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    (root / "fly.toml").write_text('app = "mine"\n')
    result = invoke("deploy", "--target", "fly", "--skip-checks")
    assert result.exit_code == 1
    assert f"Error: fly.toml already exists in {root}; pass --force to overwrite them" in result.stderr
    assert (root / "fly.toml").read_text() == 'app = "mine"\n'
    assert not (root / "Dockerfile").exists()
    deploy("fly", "--force")
    assert tomllib.loads((root / "fly.toml").read_text())["app"] == "mysite"


@pytest.mark.usefixtures("no_platform_clis")
def test_an_existing_dockerfile_is_kept(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    (root / "Dockerfile").write_text("FROM python:3.12-slim\n")
    output = deploy("render")
    assert (root / "Dockerfile").read_text() == "FROM python:3.12-slim\n"
    assert "Kept the existing Dockerfile" in output


def test_an_unknown_target_is_a_one_line_error_naming_the_valid_ones(tmp_path: Path) -> None:
    new_project(tmp_path)
    result = invoke("deploy", "--target", "heroku")
    assert result.exit_code == 1
    assert result.stderr == "Error: unknown target 'heroku'; use one of: fly, render, railway, k8s, compose\n"
