"""What to run after the files are written, per target: one-time setup (printed) and the deploy steps (run).

Setup creates what holds state or secrets (the app, its database, its secrets): it is printed, never run, since
it happens once and a secret is generated in the user's own shell. The deploy steps run when the platform's
CLI is on ``PATH`` (``flyctl``/``fly``, ``render``, ``railway``, ``docker`` + ``kubectl``, ``docker compose``),
and are printed otherwise, exactly as they would run.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass

from fastmango.cli.deploy.spec import DeploySpec

#: The executables that provide a tool, in the order they are looked for.
TOOL_NAMES: dict[str, tuple[str, ...]] = {"fly": ("flyctl", "fly")}
#: A shell snippet that prints a new random secret (run in the user's shell, so no secret passes through here).
NEW_SECRET = "$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"


@dataclass(frozen=True)
class Plan:
    """The commands of one target.

    Attributes:
        setup: Shell lines to run once, by hand (printed).
        steps: The deploy commands, as argument lists whose first item is a tool of :data:`TOOL_NAMES` or an
            executable name.
        note: One line printed after the commands (where to look next).
    """

    setup: tuple[str, ...]
    steps: tuple[tuple[str, ...], ...]
    note: str = ""

    @property
    def tools(self) -> list[str]:
        """The tools the steps need, each once, in order."""
        return list(dict.fromkeys(step[0] for step in self.steps))


def shell_line(step: tuple[str, ...]) -> str:
    """``step`` as a line to paste in a shell."""
    return shlex.join(step)


def find_tool(tool: str) -> str | None:
    """The path of ``tool``'s executable on ``PATH`` (``flyctl`` or ``fly`` for ``fly``), or None."""
    for executable in TOOL_NAMES.get(tool, (tool,)):
        found = shutil.which(executable)
        if found:
            return found
    return None


def plan(spec: DeploySpec, target: str, *, folder: str = "", image: str) -> Plan:
    """The commands of ``target`` for the files written in ``folder`` (relative to the project root; "" for it).

    Raises:
        ValueError: ``target`` is unknown.
    """
    name = spec.name

    setup: tuple[str, ...]
    steps: tuple[tuple[str, ...], ...]

    def at(path: str) -> str:
        return f"{folder.rstrip('/')}/{path}" if folder else path

    if target == "fly":
        setup = (
            f"fly apps create {name}",
            f"fly postgres create --name {name}-db",
            f"fly postgres attach {name}-db --app {name}",
            f"fly redis create --name {name}-redis   # then: fly secrets set REDIS_URL=<its URL> --app {name}",
            f'fly secrets set SECRET_KEY="{NEW_SECRET}" --app {name}',
        )
        steps = (("fly", "deploy", "--config", at("fly.toml")),)
        return Plan(setup, steps, f"fly status --app {name}; fly logs --app {name}")
    if target == "render":
        files = [at("render.yaml"), "Dockerfile", ".dockerignore"]
        setup = (
            f"git add {' '.join(files)} && git commit -m 'Render Blueprint' && git push",
            "then, in the Render dashboard: New > Blueprint, and pick this repository (each push deploys)",
        )
        return Plan(setup, (("render", "blueprints", "validate", at("render.yaml")),))
    if target == "railway":
        variables = (
            f'--set "SECRET_KEY={NEW_SECRET}" --set FASTMANGO_ENV=prod '
            "--set 'DATABASE_URL=${{Postgres.DATABASE_URL}}' --set 'REDIS_URL=${{Redis.REDIS_URL}}'"
        )
        setup_lines = [
            f"railway init --name {name}",
            "railway add --database postgres",
            "railway add --database redis",
            f"railway add --service {name}-web",
            f"railway variables --service {name}-web {variables}",
        ]
        steps = (("railway", "up", "--service", f"{name}-web", "--detach"),)
        if spec.needs_worker:
            setup_lines += [
                f"railway add --service {name}-worker   # its Settings > Config-as-code: {at('railway.worker.json')}",
                f"railway variables --service {name}-worker {variables}",
            ]
            steps += (("railway", "up", "--service", f"{name}-worker", "--detach"),)
        return Plan(tuple(setup_lines), steps, "railway logs; railway open")
    if target == "k8s":
        setup = (
            "# .env.prod holds SECRET_KEY, DATABASE_URL and REDIS_URL (and any FASTMANGO_* setting)",
            f"kubectl create secret generic {name}-env --from-env-file=.env.prod",
        )
        manifests = ["-f", at("k8s/web.yaml"), *(["-f", at("k8s/worker.yaml")] if spec.needs_worker else [])]
        steps = (
            ("docker", "build", "-t", image, "."),
            ("docker", "push", image),
            ("kubectl", "delete", "job", f"{name}-migrate", "--ignore-not-found"),
            ("kubectl", "apply", "-f", at("k8s/migrate-job.yaml")),
            ("kubectl", "wait", "--for=condition=complete", "--timeout=300s", f"job/{name}-migrate"),
            ("kubectl", "apply", *manifests),
            ("kubectl", "rollout", "status", f"deployment/{name}-web"),
        )
        note = "" if "/" in image else f"pass --image REGISTRY/{name}:TAG so that the cluster can pull the image"
        return Plan(setup, steps, note)
    if target == "compose":
        setup = (
            'python3 -c \'import secrets; print("SECRET_KEY=" + secrets.token_urlsafe(48)); '
            'print("POSTGRES_PASSWORD=" + secrets.token_urlsafe(24))\' >> .env.prod',
        )
        steps = (("docker", "compose", "-f", at("compose.yaml"), "--env-file", ".env.prod", "up", "-d", "--build"),)
        return Plan(setup, steps, "docker compose logs -f web")
    raise ValueError(f"unknown target {target!r}")
