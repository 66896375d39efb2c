"""``fastmango build`` and ``fastmango deploy --target ...``: write a project's production files, then deploy.

``build`` writes the image (a multi-stage ``Dockerfile``, ``.dockerignore``) and a ``compose.yaml``; ``deploy``
writes one platform's files (building on the same Dockerfile, written too when the project has none), then runs
the platform's CLI when it is installed, else prints the commands. Both run the deploy checks first (what
``fastmango check --deploy`` reports; errors stop them, ``--skip-checks`` overrides), refuse to overwrite a file
without ``--force``, and ``--dry-run`` prints what they would write and run, and does neither. No generated file
holds a secret (docs/deploy.md).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fastmango.cli.main import app, fail

if TYPE_CHECKING:
    from fastmango.cli.deploy.generate import GeneratedFile
    from fastmango.cli.deploy.platforms import Plan
    from fastmango.cli.deploy.spec import DeploySpec
    from fastmango.core.project import Project

_OUTPUT = typer.Option(None, "--output", "-o", help="Folder to write the files into (default: the project's root).")
_FORCE = typer.Option(False, "--force", help="Overwrite files that exist.")
_DRY_RUN = typer.Option(False, "--dry-run", help="Print the files and commands; write and run nothing.")
_SKIP_CHECKS = typer.Option(False, "--skip-checks", help="Do not run the deploy checks first.")
_IMAGE = typer.Option(None, "--image", help="The image to tag and run (default: NAME:latest; k8s: REGISTRY/NAME:TAG).")


@app.command()
def build(
    output: Path | None = _OUTPUT,
    force: bool = _FORCE,
    dry_run: bool = _DRY_RUN,
    skip_checks: bool = _SKIP_CHECKS,
    image: str | None = _IMAGE,
) -> None:
    """Run the deploy checks, then write a production Dockerfile, .dockerignore and compose.yaml."""
    from fastmango.cli.deploy.generate import build_files
    from fastmango.cli.deploy.platforms import plan

    project, spec, folder = _prepare(output)
    files = build_files(spec, image=image)
    _refuse_to_overwrite(files, folder, force)
    _check(project, skip_checks)
    _write(files, folder, dry_run)
    compose_plan = plan(spec, "compose", folder=_relative(folder, project.root), image=image or f"{spec.name}:latest")
    typer.echo("Run it with Docker Compose:" if not dry_run else "Then:")
    _print_plan(compose_plan)


@app.command()
def deploy(
    target: str = typer.Option(..., "--target", "-t", help="fly, render, railway, k8s or compose."),
    output: Path | None = _OUTPUT,
    force: bool = _FORCE,
    dry_run: bool = _DRY_RUN,
    skip_checks: bool = _SKIP_CHECKS,
    image: str | None = _IMAGE,
) -> None:
    """Write a platform's deployment files, then run its CLI if installed (else print the commands to run)."""
    from fastmango.cli.deploy.generate import IMAGE_FILES, TARGETS, default_image, image_files, target_files
    from fastmango.cli.deploy.platforms import plan

    if target not in TARGETS:
        raise fail(f"unknown target {target!r}; use one of: {', '.join(TARGETS)}")
    project, spec, folder = _prepare(output)
    files = target_files(spec, target, image=image)
    _refuse_to_overwrite(files, folder, force)
    # The platforms build the project's Dockerfile: written when missing, kept when there (`fastmango build` owns it).
    missing = [file for file in image_files(spec) if not (folder / file.path).exists()]
    kept = [name for name in IMAGE_FILES if (folder / name).exists()]
    _check(project, skip_checks)
    _write([*missing, *files], folder, dry_run)
    if kept:
        typer.echo(f"Kept the existing {', '.join(kept)} (`fastmango build --force` rewrites them).")
    commands = plan(spec, target, folder=_relative(folder, project.root), image=image or default_image(spec))
    _deploy(commands, project, dry_run)


def _prepare(output: Path | None) -> tuple[Project, DeploySpec, Path]:
    from fastmango.cli.deploy.spec import inspect_project
    from fastmango.core.project import find_project

    project = find_project()
    folder = (output or project.root).resolve()
    if folder.exists() and not folder.is_dir():
        raise fail(f"{folder} is not a folder; choose another --output")
    spec = inspect_project(project)
    if spec.missing:
        extras = ",".join(spec.missing)
        typer.echo(
            f"Warning: the dependencies lack fastmango[{extras}], which the production stack uses (PostgreSQL, Redis): "
            f'add "fastmango[{extras}]" to [project] dependencies (then lock them) before building the image',
            err=True,
        )
    return project, spec, folder


def _refuse_to_overwrite(files: list[GeneratedFile], folder: Path, force: bool) -> None:
    existing = [file.path for file in files if (folder / file.path).exists()]
    if existing and not force:
        verb = "exists" if len(existing) == 1 else "exist"
        raise fail(f"{', '.join(existing)} already {verb} in {folder}; pass --force to overwrite them")


def _check(project: Project, skip: bool) -> None:
    """Run the deploy checks; errors stop the command (exit 1)."""
    if skip:
        typer.echo("Skipped the deploy checks (--skip-checks).")
        return
    from fastmango.cli.check_commands import print_findings
    from fastmango.cli.deploy.checks import deploy_findings

    here = os.getcwd()
    try:
        findings = deploy_findings(project)
    finally:
        os.chdir(here)
    if findings is None:
        typer.echo("Warning: this fastmango has no deploy checks; nothing was checked.", err=True)
        return
    if any(finding.is_error for finding in findings):
        print_findings(findings)
        raise fail("the deploy checks found errors (above): fix them, or pass --skip-checks to build anyway")
    if findings:
        print_findings(findings)
    typer.echo("Deploy checks passed.")


def _write(files: list[GeneratedFile], folder: Path, dry_run: bool) -> None:
    for file in files:
        path = folder / file.path
        if dry_run:
            typer.echo(f"--- {_shown(path)} (would be written)")
            typer.echo(file.content, nl=not file.content.endswith("\n"))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(file.content, encoding="utf-8")
        typer.echo(f"Wrote {_shown(path)}")


def _deploy(commands: Plan, project: Project, dry_run: bool) -> None:
    from fastmango.cli.deploy.platforms import find_tool, shell_line

    if commands.setup:
        typer.echo("First time only (creates the app, its database and secrets; not run by fastmango):")
        for line in commands.setup:
            typer.echo(f"  {line}")
    found = {tool: find_tool(tool) for tool in commands.tools}
    absent = [tool for tool, path in found.items() if path is None]
    if dry_run or absent:
        if dry_run:
            typer.echo("Deploy (dry run: nothing was written or run):")
        else:
            typer.echo(f"{' and '.join(_tool_label(tool) for tool in absent)} not found on PATH; deploy with:")
        _print_plan(commands, setup=False)
        return
    for step in commands.steps:
        typer.echo(f"$ {shell_line(step)}")
        executable = found[step[0]]
        assert executable is not None
        code = subprocess.run([executable, *step[1:]], cwd=project.root, check=False).returncode
        if code:
            raise fail(f"`{shell_line(step)}` exited with status {code}", code)
    if commands.note:
        typer.echo(f"Next: {commands.note}")


def _print_plan(commands: Plan, *, setup: bool = True) -> None:
    from fastmango.cli.deploy.platforms import shell_line

    for line in commands.setup if setup else ():
        typer.echo(f"  {line}")
    for step in commands.steps:
        typer.echo(f"  {shell_line(step)}")
    if commands.note:
        typer.echo(f"Then: {commands.note}")


def _tool_label(tool: str) -> str:
    from fastmango.cli.deploy.platforms import TOOL_NAMES

    return " or ".join(TOOL_NAMES.get(tool, (tool,)))


def _relative(folder: Path, root: Path) -> str:
    """``folder`` as the commands run from the project root name it ("" for the root itself)."""
    if folder == root.resolve():
        return ""
    try:
        return folder.relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(folder)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
