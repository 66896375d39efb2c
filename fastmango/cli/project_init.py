"""``fastmango init NAME``: write a new project from the template in ``fastmango/templates/project``."""

from __future__ import annotations

import importlib.util
import keyword
import re
import secrets
from pathlib import Path

import typer

from fastmango.cli.main import app, fail

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "project"
NAME_PLACEHOLDER = "__name__"
# Stored without the dot so that packaging tools and git treat them as ordinary files.
DOTFILES = {"gitignore": ".gitignore", "env.jinja": ".env.jinja"}


def check_project_name(name: str) -> None:
    """Raise :class:`typer.Exit` with a one-line message unless ``name`` can be a Python package name."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name) or keyword.iskeyword(name):
        raise fail(f"{name!r} is not a valid project name: use lowercase letters, digits and underscores (my_site)")
    if importlib.util.find_spec(name) is not None:
        raise fail(f"{name!r} conflicts with an installed Python module of that name; choose another name")


def render_project(name: str, target: Path) -> list[Path]:
    """Render the project template for ``name`` into ``target``; returns the files written."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        autoescape=False,
    )
    context = {"name": name, "secret_key": secrets.token_urlsafe(48)}
    written = []
    for source in sorted(TEMPLATE_DIR.rglob("*")):
        if source.is_dir() or "__pycache__" in source.parts:
            continue
        relative = source.relative_to(TEMPLATE_DIR)
        parts = [DOTFILES.get(part, part.replace(NAME_PLACEHOLDER, name)) for part in relative.parts]
        out = target / Path(*parts)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".jinja":
            out = out.with_suffix("")
            out.write_text(env.get_template(relative.as_posix()).render(context), encoding="utf-8")
        else:
            out.write_bytes(source.read_bytes())
        written.append(out)
    return written


@app.command("init")
def init(
    name: str = typer.Argument(..., help="The project's Python package name, e.g. mysite."),
    directory: Path | None = typer.Option(None, "--directory", "-d", help="Where to write it (default: ./NAME)."),
) -> None:
    """Create a new fastmango project in a new folder."""
    check_project_name(name)
    target = (directory or Path(name)).resolve()
    if target.exists() and not target.is_dir():
        raise fail(f"{target} exists and is not a folder; choose another --directory")
    if target.is_dir() and any(target.iterdir()):
        raise fail(f"{target} is not empty; choose another name or --directory, fastmango init never overwrites")
    files = render_project(name, target)
    typer.echo(f"Created project {name!r} in {target} ({len(files)} files).")
    typer.echo("Next steps:")
    typer.echo(f"  cd {target.name if directory is None else target}")
    typer.echo("  fastmango dev")
