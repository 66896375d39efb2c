"""``fastmango check``: the system checks (settings, models, routes, AI, tasks), grouped, with their fixes.

The app refuses to start on some of what the checks find (DEBUG in prod, an alias without its key, an agent
naming an unknown tool); the command still reports them all: when the app cannot load, the checks that need
only the settings run, and the refusal itself is a finding (``fastmango.E000``) unless one of those names it.

``fastmango check --deploy`` adds the deploy checks (ids ``fastmango.E9xx/W9xx/I9xx``) and reads the settings as
production does: the prod profile (unless ``FASTMANGO_ENV`` names another), the environment and ``.env.prod``,
not the local ``.env``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import TYPE_CHECKING, Any

import typer

from fastmango.cli.main import app

if TYPE_CHECKING:
    from fastmango.core.project import Project
    from fastmango.core.system_checks import CheckContext, Finding


#: The order areas are printed in (others after, in the order found).
AREA_ORDER = ("project", "settings", "models", "routes", "ai", "tasks", "admin", "deploy")


@app.command()
def check(
    as_json: bool = typer.Option(False, "--json", help="Print the findings as a JSON list."),
    deploy: bool = typer.Option(
        False,
        "--deploy",
        help="Also run the deploy checks, on the settings production reads: FASTMANGO_ENV=prod (unless set), "
        "the environment and .env.prod, not .env.",
    ),
) -> None:
    """Check the project's settings, models, routes, agents and tasks; exit 1 when any error is found."""
    from fastmango.core.project import find_project
    from fastmango.core.system_checks import area_of

    project = find_project()
    os.chdir(project.root)
    if str(project.root) not in sys.path:
        sys.path.insert(0, str(project.root))
    findings = collect_findings(project, deploy=deploy)
    if as_json:
        typer.echo(json.dumps([{**f.as_dict(), "area": area_of(f)} for f in findings], indent=2))
    else:
        print_findings(findings)
    if any(finding.is_error for finding in findings):
        raise typer.Exit(1)


def collect_findings(project: Project, *, deploy: bool = False) -> list[Finding]:
    """Load ``project`` (run from its root, on ``sys.path``) and run its checks: what ``fastmango check`` prints.

    With ``deploy`` the deploy checks run too, and the settings are read as production reads them (see
    :func:`production_environment`); ``fastmango build`` runs them so.
    """
    import asyncio

    from fastmango.core.system_checks import run_checks

    if deploy:
        production_environment()
    context, refusal = load_context(project)
    findings = asyncio.run(_run(context, run_checks, deploy))
    if refusal is not None and not any(_explains(finding, refusal) for finding in findings):
        findings.insert(0, _refused(refusal))
    return findings


def production_environment() -> None:
    """Make this process read the settings as a production process would: the prod profile unless
    ``FASTMANGO_ENV`` already names one (a staging deployment's), and no local ``.env`` (it is gitignored, so it is
    not deployed); the environment and ``.env.<profile>`` still apply."""
    from fastmango.core.settings import DOTENV_VARIABLE

    os.environ.setdefault("FASTMANGO_ENV", "prod")
    os.environ[DOTENV_VARIABLE] = "0"


async def _run(context: CheckContext, run_checks: Any, deploy: bool = False) -> list[Finding]:
    from fastmango.db.engine import disconnect

    try:
        return list(await run_checks(context, deploy=deploy))
    finally:
        await disconnect()


def load_context(project: Project) -> tuple[CheckContext, str | None]:
    """The project's app and settings to check, and why the app refused to load or start (None: it did not).

    The app is configured as ``fastmango.setup()`` configures it; when it refuses, the checks run on what loaded:
    the app with its registries (a plugin's ``configure`` refused) or the settings alone. A declaration naming an
    unknown field (or action, option) does not stop the loading: each one is collected, to be reported.
    """
    from fastmango.core.app import FastMango
    from fastmango.core.declarations import collecting
    from fastmango.core.errors import ImproperlyConfigured
    from fastmango.core.project import load_app
    from fastmango.core.system_checks import CheckContext

    with collecting() as errors:
        try:
            application = load_app(project)
        except Exception as exc:
            settings = _project_settings(project)
            return CheckContext(settings, None, project.migrations_dir, errors), _why(exc)
        if not isinstance(application, FastMango):
            raise ImproperlyConfigured(f"{project.app_path!r} is a {type(application).__name__}, not a FastMango app")
        refusal = None
        try:
            application.configure_plugins()
        except Exception as exc:
            refusal = _why(exc)
    return CheckContext(application.settings, application, project.migrations_dir, errors), refusal


def _why(exc: Exception) -> str:
    from fastmango.core.errors import FastMangoError

    if isinstance(exc, FastMangoError):
        return str(exc)
    frames: list[traceback.FrameSummary] = list(traceback.extract_tb(exc.__traceback__))
    here = os.getcwd() + os.sep  # the project's root: the innermost frame in the project names the line to fix
    frames = [frame for frame in frames if frame.filename.startswith(here) and ".venv" not in frame.filename] or frames
    where = f"{os.path.relpath(frames[-1].filename)}:{frames[-1].lineno}: " if frames else ""
    return f"{where}{type(exc).__name__}: {exc}"


def _project_settings(project: Project) -> Any:
    """The project's settings (``<package>/settings.py``'s ``Settings``, else fastmango's), without refusing any.

    Raises:
        ImproperlyConfigured: the settings do not validate (nothing can be checked then).
    """
    from pydantic import ValidationError

    from fastmango.core.errors import ImproperlyConfigured
    from fastmango.core.project import import_project_module
    from fastmango.core.settings import Settings, describe_validation_error

    try:
        module = import_project_module(project.package, "settings")
    except Exception:
        module = None
    settings_class = getattr(module, "Settings", None)
    if not (isinstance(settings_class, type) and issubclass(settings_class, Settings)):
        settings_class = Settings
    try:
        return settings_class()
    except ValidationError as exc:
        raise ImproperlyConfigured(describe_validation_error(exc)) from exc


def _explains(finding: Finding, refusal: str) -> bool:
    return finding.is_error and finding.obj is not None and finding.obj in refusal


def _refused(refusal: str) -> Finding:
    from fastmango.core.system_checks import Finding

    return Finding(
        "fastmango.E000",
        "error",
        f"the app refuses to start: {refusal}",
        hint="fix what the message names; the checks that need the app ran on what loaded",
    )


def print_findings(findings: list[Finding]) -> None:
    """Print ``findings`` grouped by area, each with its fix, then a count."""
    from fastmango.core.system_checks import area_of

    if not findings:
        typer.echo("No issues found.")
        return
    groups: dict[str, list[Finding]] = {area: [] for area in AREA_ORDER}
    for finding in findings:
        groups.setdefault(area_of(finding), []).append(finding)
    for area, found in groups.items():
        if not found:
            continue
        typer.echo(f"{area}:")
        for finding in found:
            about = f" [{finding.obj}]" if finding.obj else ""
            typer.echo(f"  {finding.id} ({finding.level}){about}: {finding.message}")
            if finding.hint:
                typer.echo(f"      fix: {finding.hint}")
    counts = [(level, sum(f.level == level for f in findings)) for level in ("error", "warning", "info")]
    typer.echo(", ".join(f"{n} {level}{'s' if n != 1 else ''}" for level, n in counts if n) + ".")
