"""Helpers of the ``fastmango build`` / ``fastmango deploy`` tests: fresh projects and the validators."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from typer.testing import CliRunner, Result

from fastmango.cli import app
from fastmango.cli.main import _register_commands

_register_commands()
runner = CliRunner()

#: The Kubernetes version the manifests are validated against (kubernetes-validate's schemas, strict).
KUBERNETES_VERSION = "1.35.0"

TASKS = """import fastmango


@fastmango.task(retries=3)
async def send_welcome(ctx: fastmango.TaskContext, user_id: int) -> None:
    pass


@fastmango.task(cron="0 3 * * *", name="nightly_report")
async def report(ctx: fastmango.TaskContext) -> None:
    pass
"""


def invoke(*args: str) -> Result:
    """Run ``fastmango ARGS`` in this process (as the console script would, errors one line on stderr)."""
    return runner.invoke(app, list(args))


def new_project(tmp_path: Path, name: str = "mysite", *, tasks: bool = False) -> Path:
    """A fresh ``fastmango init`` project (with two tasks, one of them cron, when ``tasks``); the cwd moves in."""
    import os

    result = invoke("init", name, "--directory", str(tmp_path / name))
    assert result.exit_code == 0, result.output
    root = tmp_path / name
    if tasks:
        (root / name / "tasks.py").write_text(TASKS, encoding="utf-8")
    os.chdir(root)
    return root


def dot_env_secret(root: Path) -> str:
    """The SECRET_KEY ``fastmango init`` wrote into the project's ``.env``."""
    line = next(line for line in (root / ".env").read_text().splitlines() if line.startswith("SECRET_KEY="))
    return line.removeprefix("SECRET_KEY=")


def assert_no_secrets(text: str, secret: str) -> None:
    """No secret value in a generated file: not the project's key, no password, DATABASE_URL only a reference."""
    assert secret not in text
    assert not re.search(r"(?i)(secret_key|password)\s*[:=]\s*['\"]?[A-Za-z0-9_\-]{8,}", text), text
    for match in re.finditer(r"(?i)postgres(?:ql)?(?:\+asyncpg)?://([^@\s\"']*)@", text):
        assert "${" in match.group(1), f"a literal database credential: {match.group(0)}"


def validate_compose(path: Path) -> dict[str, Any]:
    """Parse ``path`` and validate it against the compose-spec schema check-jsonschema vendors."""
    from check_jsonschema.builtin_schemas import get_builtin_schema

    document = yaml.safe_load(path.read_text())
    jsonschema.validate(document, get_builtin_schema("vendor.compose-spec"), cls=jsonschema.Draft202012Validator)
    return document  # type: ignore[no-any-return]


def validate_kubernetes(path: Path) -> list[dict[str, Any]]:
    """Parse every document of ``path`` and validate each against the Kubernetes schemas (strict)."""
    import kubernetes_validate

    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    return documents


def dockerfile_stages(text: str) -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions (keyword, arguments), line continuations joined, grouped by FROM stage."""
    joined = re.sub(r"\\\n\s*", " ", text)
    stages: list[list[tuple[str, str]]] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arguments = line.partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword.upper(), arguments.strip()))
    return stages


def exec_form(arguments: str) -> list[str]:
    """A CMD/HEALTHCHECK's JSON (exec) form; Docker silently runs a malformed one through a shell instead."""
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(item, str) for item in value), arguments
    return value
