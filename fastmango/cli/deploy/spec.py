"""What a project needs to run in production, read from its files: :class:`DeploySpec` and :func:`inspect_project`.

The generators (:mod:`fastmango.cli.deploy.generate`) are pure functions of a :class:`DeploySpec`; this module
is the one place that reads the project: its ``pyproject.toml``, its lock or requirements file, its Python
version, and the ``@task`` declarations in its package (found by parsing the source, so that nothing of the
project runs, and a build machine without the project's dependencies can still generate its files).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastmango.core.project import Project

#: The readiness endpoint (database, Redis and a live worker checked): health checks before traffic.
READY_PATH = "/ready"
#: The liveness endpoint (the process answers): restarts a stuck process.
HEALTH_PATH = "/health"
#: The port the web process listens on inside its container (``PORT`` overrides it where a platform sets one).
PORT = 8000
#: The uid/gid of the image's unprivileged user (numeric, so that Kubernetes' runAsNonRoot can verify it).
APP_UID = 10001

Installer = Literal["uv", "requirements", "pyproject"]

#: Requirement files, most specific first: the first one the project has is installed.
REQUIREMENTS_FILES = (
    "requirements.lock",
    "requirements-prod.txt",
    "requirements/prod.txt",
    "requirements/production.txt",
    "requirements.txt",
)


@dataclass(frozen=True)
class Schedule:
    """A task that runs on a cron schedule (the worker runs it)."""

    task: str
    cron: str


@dataclass(frozen=True)
class DeploySpec:
    """Everything the generated files depend on.

    Attributes:
        name: The project's name as platforms accept it (lowercase letters, digits, hyphens).
        package: The project's top-level package (``mysite``).
        app_path: ``package.module:attribute`` of the ASGI app.
        python: The Python minor version the image runs (``3.12``).
        installer: How dependencies are installed: ``uv`` (uv.lock), ``requirements`` (a requirements file)
            or ``pyproject`` (resolved from pyproject.toml at build time: not locked).
        requirements: The requirements file, for the ``requirements`` installer.
        tasks: The names of the project's tasks.
        schedules: Its cron tasks.
        uses_arq: The project depends on arq (``fastmango[redis]``/``[tasks]``) explicitly.
        missing: Extras the production stack needs that the dependencies lack (``postgres``, ``redis``).
    """

    name: str
    package: str
    app_path: str
    python: str
    installer: Installer = "pyproject"
    requirements: str | None = None
    tasks: tuple[str, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    uses_arq: bool = False
    missing: tuple[str, ...] = field(default=())
    port: int = PORT

    @property
    def needs_worker(self) -> bool:
        """A worker process runs: the project has tasks (cron ones included) or uses the arq queue."""
        return bool(self.tasks or self.schedules or self.uses_arq)

    @property
    def needs_cron(self) -> bool:
        """The project has cron tasks; the worker schedules them (each run enqueued once across workers)."""
        return bool(self.schedules)


def inspect_project(project: Project) -> DeploySpec:
    """Read ``project``'s files into the :class:`DeploySpec` its deployment files are generated from."""
    root = project.root
    pyproject = _read_pyproject(root / "pyproject.toml")
    declared = pyproject.get("project")
    declared = declared if isinstance(declared, dict) else {}
    name = slug(str(declared.get("name") or project.package))
    requirements = next((path for path in REQUIREMENTS_FILES if (root / path).is_file()), None)
    installer: Installer = "uv" if (root / "uv.lock").is_file() else "requirements" if requirements else "pyproject"
    dependencies = _dependency_text(root, declared, requirements if installer == "requirements" else None)
    tasks, schedules = find_tasks(root / project.package)
    return DeploySpec(
        name=name,
        package=project.package,
        app_path=project.app_path,
        python=python_minor(root, str(declared.get("requires-python", ""))),
        installer=installer,
        requirements=requirements if installer == "requirements" else None,
        tasks=tasks,
        schedules=schedules,
        uses_arq=bool(re.search(r"\barq\b|fastmango\[[^\]]*\b(tasks|all)\b", dependencies)),
        missing=tuple(extra for extra, found in _extras(dependencies).items() if not found),
    )


def slug(name: str) -> str:
    """``name`` as a DNS label (what Kubernetes, Fly and Render accept): ``My_Site`` -> ``my-site``."""
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return label[:40].rstrip("-") or "app"


def python_minor(root: Path, requires_python: str) -> str:
    """The Python minor version to build with: ``.python-version``, else this interpreter's when
    ``requires-python`` admits it, else the lowest version ``requires-python`` names."""
    pinned = root / ".python-version"
    if pinned.is_file():
        match = re.match(r"\s*(\d+\.\d+)", pinned.read_text(encoding="utf-8"))
        if match:
            return match.group(1)
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    lowest = re.search(r">=\s*(\d+\.\d+)", requires_python)
    upper = re.search(r"<\s*(\d+)\.(\d+)", requires_python)
    below_upper = upper is None or sys.version_info[:2] < (int(upper.group(1)), int(upper.group(2)))
    at_least_lowest = lowest is None or _version(current) >= _version(lowest.group(1))
    if below_upper and at_least_lowest:
        return current
    return lowest.group(1) if lowest else current


def find_tasks(package_dir: Path) -> tuple[tuple[str, ...], tuple[Schedule, ...]]:
    """The tasks declared in the package's source (``@task``, ``@fastmango.task(...)``) and the cron ones."""
    tasks: list[str] = []
    schedules: list[Schedule] = []
    for source in sorted(package_dir.rglob("*.py")) if package_dir.is_dir() else []:
        if "migrations" in source.relative_to(package_dir).parts:
            continue
        try:
            tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for decorator in node.decorator_list:
                call = decorator if isinstance(decorator, ast.Call) else None
                if _decorator_name(call.func if call else decorator) != "task":
                    continue
                options = {kw.arg: kw.value for kw in call.keywords if kw.arg} if call else {}
                task_name = _constant(options.get("name")) or node.name
                tasks.append(task_name)
                cron = _constant(options.get("cron"))
                if cron:
                    schedules.append(Schedule(task_name, cron))
    return tuple(sorted(set(tasks))), tuple(schedules)


def _decorator_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _constant(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _read_pyproject(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _dependency_text(root: Path, declared: dict[str, Any], requirements: str | None) -> str:
    """The project's dependency declarations as one lowercase text, to look for packages in."""
    parts = [str(item) for item in declared.get("dependencies") or []]
    for group in (declared.get("optional-dependencies") or {}).values():
        parts.extend(str(item) for item in group)
    if requirements:
        parts.append((root / requirements).read_text(encoding="utf-8", errors="replace"))
    return "\n".join(parts).lower()


def _extras(dependencies: str) -> dict[str, bool]:
    """Whether the dependencies bring the PostgreSQL driver and the Redis client the generated stack uses."""
    extras: set[str] = set()
    for group in re.findall(r"fastmango\s*\[([^\]]*)\]", dependencies):
        extras.update(part.strip() for part in group.split(","))
    has_all = "all" in extras
    redis_client = re.search(r"^\s*(redis|arq)\b", dependencies, re.MULTILINE)
    return {
        "postgres": has_all or "postgres" in extras or bool(re.search(r"\basyncpg\b", dependencies)),
        "redis": has_all or bool(extras & {"redis", "tasks"}) or bool(redis_client),
    }
