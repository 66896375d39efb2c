"""The deployment files of a project, rendered from the Jinja2 templates in ``fastmango/templates/deploy``.

Each function here is a pure function of a :class:`~fastmango.cli.deploy.spec.DeploySpec`: the same project
gives the same files. No file holds a secret: secrets are references (``${SECRET_KEY:?...}``, a Kubernetes
Secret's key, a platform-generated value), filled by the platform at run time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastmango.cli.deploy.spec import APP_UID, HEALTH_PATH, READY_PATH, DeploySpec

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATE_DIR = Path(__file__).resolve().parent.parent.parent / "templates" / "deploy"

#: The platforms ``fastmango deploy --target`` writes for, in the order help lists them.
TARGETS = ("fly", "render", "railway", "k8s", "compose")

UV_IMAGE = "ghcr.io/astral-sh/uv:0.8"
POSTGRES_IMAGE = "postgres:17-alpine"
REDIS_IMAGE = "redis:7-alpine"
#: The web process: ``fastmango serve`` binds 0.0.0.0 and ``PORT`` (8000 without it), workers from WEB_CONCURRENCY.
WEB_COMMAND = ("fastmango", "serve")
#: Files that ``fastmango build`` writes and every target builds from.
IMAGE_FILES = ("Dockerfile", ".dockerignore")


@dataclass(frozen=True)
class GeneratedFile:
    """A file to write: its path relative to the output folder, and its text."""

    path: str
    content: str


def default_image(spec: DeploySpec) -> str:
    """The image name used when none is given (``mysite:latest``)."""
    return f"{spec.name}:latest"


def dockerfile(spec: DeploySpec) -> str:
    """The multi-stage Dockerfile: a builder with the locked dependencies, a slim non-root runtime."""
    return _render("Dockerfile.j2", spec)


def dockerignore(spec: DeploySpec) -> str:
    """The ``.dockerignore``: no local settings, secrets, virtual environments, caches or databases."""
    return _render("dockerignore.j2", spec)


def compose(spec: DeploySpec, *, image: str | None = None, command: str = "build") -> str:
    """``compose.yaml``: migrate once, then web (and worker), on PostgreSQL and Redis with health checks."""
    return _render("compose.yaml.j2", spec, image=image or default_image(spec), command=command)


def fly_toml(spec: DeploySpec) -> str:
    """``fly.toml``: the release command migrates, the http service is checked on readiness."""
    return _render("fly.toml.j2", spec, region="iad")


def render_yaml(spec: DeploySpec) -> str:
    """``render.yaml``: a Render Blueprint with the services, a database, Key Value and a generated secret."""
    return _render("render.yaml.j2", spec)


def railway_json(spec: DeploySpec, process: str = "web") -> str:
    """``railway.json`` (web) or ``railway.worker.json`` (worker): one Railway service's config as code."""
    return _render("railway.json.j2", spec, process=process)


def kubernetes(spec: DeploySpec, *, image: str | None = None) -> list[GeneratedFile]:
    """The Kubernetes manifests: web (Deployment, Service, HPA), worker (Deployment), the migrations Job."""
    names = ["migrate-job", "web", *(["worker"] if spec.needs_worker else [])]
    image = image or default_image(spec)
    return [GeneratedFile(f"k8s/{name}.yaml", _render(f"k8s/{name}.yaml.j2", spec, image=image)) for name in names]


def build_files(spec: DeploySpec, *, image: str | None = None) -> list[GeneratedFile]:
    """What ``fastmango build`` writes: the Dockerfile, ``.dockerignore`` and ``compose.yaml``."""
    return [*image_files(spec), GeneratedFile("compose.yaml", compose(spec, image=image))]


def image_files(spec: DeploySpec) -> list[GeneratedFile]:
    """The files the image is built from (every target needs them)."""
    return [GeneratedFile("Dockerfile", dockerfile(spec)), GeneratedFile(".dockerignore", dockerignore(spec))]


def target_files(spec: DeploySpec, target: str, *, image: str | None = None) -> list[GeneratedFile]:
    """The files of one ``fastmango deploy`` target (without the image files).

    Raises:
        ValueError: ``target`` is not one of :data:`TARGETS`.
    """
    if target == "fly":
        return [GeneratedFile("fly.toml", fly_toml(spec))]
    if target == "render":
        return [GeneratedFile("render.yaml", render_yaml(spec))]
    if target == "railway":
        files = [GeneratedFile("railway.json", railway_json(spec))]
        if spec.needs_worker:
            files.append(GeneratedFile("railway.worker.json", railway_json(spec, "worker")))
        return files
    if target == "k8s":
        return kubernetes(spec, image=image)
    if target == "compose":
        return [GeneratedFile("compose.yaml", compose(spec, image=image, command="deploy --target compose"))]
    raise ValueError(f"unknown target {target!r}; use one of {', '.join(TARGETS)}")


def _render(template: str, spec: DeploySpec, **extra: Any) -> str:
    context = {
        "spec": spec,
        "uid": APP_UID,
        "ready_path": READY_PATH,
        "health_path": HEALTH_PATH,
        "db_name": spec.package,
        "secret": f"{spec.name}-env",
        "uv_image": UV_IMAGE,
        "postgres_image": POSTGRES_IMAGE,
        "redis_image": REDIS_IMAGE,
        "web_command": " ".join(WEB_COMMAND),
        "web_command_argv": json.dumps(WEB_COMMAND),
        **extra,
    }
    return _environment().get_template(template).render(context)


@cache
def _environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        autoescape=False,
    )
