from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fastmango.cli import app
from fastmango.cli.main import _register_commands

_register_commands()
runner = CliRunner()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real console script, as a user would."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "fastmango"), *args], capture_output=True, text=True, timeout=60
    )


def test_version_prints_the_version() -> None:
    from fastmango import __version__

    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.output.strip() == __version__


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("init", "dev", "version"):
        assert command in result.output


def test_init_writes_the_project_layout(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", "mysite"])
    assert result.exit_code == 0, result.output
    root = tmp_path / "mysite"
    for relative in (
        "pyproject.toml",
        ".env",
        ".env.example",
        ".gitignore",
        "mysite/__init__.py",
        "mysite/settings.py",
        "mysite/app.py",
        "mysite/routes.py",
        "mysite/models.py",
        "mysite/tasks.py",
        "mysite/tools.py",
        "mysite/admin.py",
        "tests/test_app.py",
    ):
        assert (root / relative).is_file(), relative
    assert 'app = "mysite.app:app"' in (root / "pyproject.toml").read_text()
    assert "class Settings(fastmango.Settings)" in (root / "mysite/settings.py").read_text()
    assert not list(root.rglob("*.jinja"))


def secret_key_line(path: Path) -> str:
    return next(line for line in path.read_text().splitlines() if line.startswith("SECRET_KEY="))


def test_init_writes_each_project_its_own_secret_key_in_dot_env_not_in_the_example() -> None:
    runner.invoke(app, ["init", "one"])
    runner.invoke(app, ["init", "two"])
    first, second = secret_key_line(Path("one/.env")), secret_key_line(Path("two/.env"))
    assert len(first.removeprefix("SECRET_KEY=")) >= 32
    assert first != second
    for project in ("one", "two"):
        example = Path(project, ".env.example").read_text()
        assert not [line for line in example.splitlines() if line.startswith("SECRET_KEY=")]
        assert first.removeprefix("SECRET_KEY=") not in example and second.removeprefix("SECRET_KEY=") not in example
        assert ".env" in Path(project, ".gitignore").read_text().splitlines()


def test_the_generated_settings_read_the_secret_key_from_dot_env(tmp_path: Path) -> None:
    runner.invoke(app, ["init", "keyed"])
    root = tmp_path / "keyed"
    result = subprocess.run(
        [sys.executable, "-c", "from keyed.settings import Settings; print(Settings().secret_key.get_secret_value())"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == secret_key_line(root / ".env").removeprefix("SECRET_KEY=")


def test_generated_project_tests_pass(tmp_path: Path) -> None:
    runner.invoke(app, ["init", "shop"])
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path / "shop",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_generated_project_builds_a_wheel_of_its_package(tmp_path: Path) -> None:
    runner.invoke(app, ["init", "demo"])
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", "out", "."],
        cwd=tmp_path / "demo",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    [wheel] = (tmp_path / "demo" / "out").glob("demo-0.1.0-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "demo/app.py" in names
    assert not [name for name in names if name.startswith(("tests/", "migrations/"))]


def test_init_refuses_a_non_empty_folder_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    result = run("init", "taken")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "is not empty" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["keep.txt"]


def test_init_into_an_empty_existing_folder_works(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["init", "empty"])
    assert result.exit_code == 0
    assert (tmp_path / "empty" / "empty" / "app.py").is_file()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("My-Site", "not a valid project name"),
        ("class", "not a valid"),
        ("json", "conflicts with an installed Python module"),
    ],
)
def test_init_refuses_bad_names(name: str, reason: str) -> None:
    result = run("init", name)
    assert result.returncode == 1
    assert reason in result.stderr
    assert "Traceback" not in result.stderr


def test_init_with_directory_option(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", "blog", "--directory", "somewhere/else"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "somewhere/else/blog/app.py").is_file()
