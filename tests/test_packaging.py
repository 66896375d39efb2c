"""What ``pip install fastmango[...]`` gets: extras that resolve in one step, and hints that name them."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from fastmango.core.errors import MissingDependency

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def extra_requirements(extra: str) -> dict[str, Requirement]:
    """The requirements ``fastmango[extra]`` installs, by name, with ``fastmango[other]`` expanded."""
    found: dict[str, Requirement] = {}
    for line in PYPROJECT["project"]["optional-dependencies"][extra]:
        requirement = Requirement(line)
        if requirement.name == "fastmango":
            for other in requirement.extras:
                found |= extra_requirements(other)
        else:
            found[requirement.name] = requirement
    return found


def arq_redis_specifier() -> SpecifierSet:
    """The redis versions the installed arq accepts, from its metadata."""
    for line in importlib.metadata.requires("arq") or []:
        requirement = Requirement(line)
        if requirement.name == "redis":
            return requirement.specifier
    raise AssertionError("arq's metadata names no redis requirement")


def hint_extra(error: MissingDependency) -> str:
    """The extra a missing-dependency message tells the user to install."""
    message = str(error)
    assert 'pip install "fastmango[' in message, message
    return message.split('pip install "fastmango[', 1)[1].split("]", 1)[0]


@pytest.mark.parametrize("extra", ["redis", "tasks", "all"])
def test_an_extra_admits_no_redis_version_that_arq_excludes(extra: str) -> None:
    ours = extra_requirements(extra)["redis"].specifier
    candidates = [
        Version(f"{major}.{minor}.{patch}") for major in range(3, 10) for minor in range(6) for patch in (0, 1)
    ]
    admitted = [v for v in candidates if v in ours]
    assert admitted, f"[{extra}] admits no redis release at all"
    assert [v for v in admitted if v not in arq_redis_specifier()] == []


def test_redis_missing_names_the_extra_that_also_brings_arq(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastmango.core.redis import redis_client

    monkeypatch.setitem(sys.modules, "redis", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(MissingDependency) as caught:
        redis_client("redis://127.0.0.1:6379/0")
    extra = hint_extra(caught.value)
    assert {"redis", "arq"} <= set(extra_requirements(extra))  # REDIS_URL also selects the arq queue: one step


def test_arq_missing_names_the_tasks_extra_that_brings_arq_and_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "arq", None)
    monkeypatch.delitem(sys.modules, "fastmango.tasks.arq_backend", raising=False)
    with pytest.raises(MissingDependency) as caught:
        import fastmango.tasks.arq_backend  # noqa: F401
    extra = hint_extra(caught.value)
    assert extra == "tasks"
    assert {"redis", "arq"} <= set(extra_requirements(extra))


def test_pip_resolves_the_redis_extra_alone_to_arq_and_a_redis_it_accepts(tmp_path: Path) -> None:
    # pip's resolver against the index (not the installed packages): what a fresh `pip install "fastmango[redis]"`
    # would install. A real install into a fresh venv takes about 30 s here; resolving takes about 6.
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--no-build-isolation",
            "--quiet",
            "--report",
            str(report),
            f"{ROOT}[redis]",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    installed = {item["metadata"]["name"]: item["metadata"] for item in json.loads(report.read_text())["install"]}
    assert "arq" in installed
    arq_wants = next(Requirement(r) for r in installed["arq"]["requires_dist"] if Requirement(r).name == "redis")
    assert Version(installed["redis"]["version"]) in arq_wants.specifier


def test_the_wheel_carries_the_mit_license(fastmango_wheel: Path) -> None:
    wheel = fastmango_wheel
    with zipfile.ZipFile(wheel) as archive:
        [license_path] = [name for name in archive.namelist() if name.endswith(".dist-info/licenses/LICENSE")]
        license_text = archive.read(license_path).decode()
        metadata = archive.read(license_path.replace("licenses/LICENSE", "METADATA")).decode()
    assert license_text.startswith("MIT License\n\nCopyright (c) 2026 the fastmango authors\n")
    assert "License-Expression: MIT" in metadata.splitlines()
    assert "License-File: LICENSE" in metadata.splitlines()
