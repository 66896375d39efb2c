from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FASTMANGO = str(Path(sys.executable).parent / "fastmango")
CREATE_TABLES = (
    "import asyncio, fastmango\n"
    "from fastmango.db import create_all, disconnect\n"
    "fastmango.setup()\n"
    "async def main():\n"
    "    await create_all()\n"
    "    await disconnect()\n"
    "asyncio.run(main())\n"
)
CHECK_LOGIN = (
    "import asyncio, sys, fastmango\n"
    "from fastmango.auth import User\n"
    "from fastmango.db import disconnect\n"
    "fastmango.setup()\n"
    "async def main():\n"
    "    user = await User.objects.get(username=sys.argv[1])\n"
    "    print(user.is_superuser, user.email, user.check_password(sys.argv[2]))\n"
    "    await disconnect()\n"
    "asyncio.run(main())\n"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    subprocess.run([FASTMANGO, "init", "site_admin"], check=True, capture_output=True, timeout=60)
    root = tmp_path / "site_admin"
    env = environment()
    subprocess.run([sys.executable, "-c", CREATE_TABLES], cwd=root, check=True, env=env, timeout=60)
    return root


def environment(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": "sqlite:///./test.sqlite3",
        "FASTMANGO_PASSWORD_ARGON2_TIME_COST": "1",
        "FASTMANGO_PASSWORD_ARGON2_MEMORY_KIB": "1024",
        **extra,
    }


def run(root: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FASTMANGO, *args], cwd=root, input=stdin, capture_output=True, text=True, env=environment(**env), timeout=60
    )


def check_login(root: Path, username: str, password: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", CHECK_LOGIN, username, password],
        cwd=root,
        capture_output=True,
        text=True,
        env=environment(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_createsuperuser_without_input_reads_the_password_from_the_environment(project: Path) -> None:
    result = run(
        project,
        "createsuperuser",
        "--username",
        "root",
        "--email",
        "root@example.com",
        "--no-input",
        FASTMANGO_SUPERUSER_PASSWORD="a long password",
    )
    assert result.returncode == 0, result.stderr
    assert "Superuser 'root' created." in result.stdout
    assert check_login(project, "root", "a long password") == ["True", "root@example.com", "True"]


def test_createsuperuser_interactively(project: Path) -> None:
    result = run(project, "createsuperuser", stdin="admin\nadmin@example.com\nsecret123\nsecret123\n")
    assert result.returncode == 0, result.stderr
    assert check_login(project, "admin", "secret123") == ["True", "admin@example.com", "True"]


def test_createsuperuser_refuses_an_existing_username(project: Path) -> None:
    args = ("createsuperuser", "--username", "root", "--no-input")
    assert run(project, *args, FASTMANGO_SUPERUSER_PASSWORD="a long password").returncode == 0
    again = run(project, *args, FASTMANGO_SUPERUSER_PASSWORD="a long password")
    assert again.returncode == 1
    assert again.stderr == "Error: a user named 'root' already exists; use `fastmango changepassword root`\n"


def test_createsuperuser_no_input_needs_the_password_variable(project: Path) -> None:
    result = run(project, "createsuperuser", "--username", "root", "--no-input")
    assert result.returncode == 1
    assert "FASTMANGO_SUPERUSER_PASSWORD" in result.stderr
    assert "Traceback" not in result.stderr


def test_createsuperuser_refuses_a_short_password(project: Path) -> None:
    result = run(project, "createsuperuser", "--username", "r", "--no-input", FASTMANGO_SUPERUSER_PASSWORD="short")
    assert result.returncode == 1
    assert "too short" in result.stderr


def test_createsuperuser_before_migrating_says_to_migrate(tmp_path: Path) -> None:
    subprocess.run([FASTMANGO, "init", "fresh_site"], check=True, capture_output=True, timeout=60)
    result = run(
        tmp_path / "fresh_site",
        "createsuperuser",
        "--username",
        "r",
        "--no-input",
        FASTMANGO_SUPERUSER_PASSWORD="x" * 9,
    )
    assert result.returncode == 1
    assert result.stderr == "Error: the auth tables do not exist yet; run `fastmango migrate` first\n"


def test_changepassword(project: Path) -> None:
    run(project, "createsuperuser", "--username", "root", "--no-input", FASTMANGO_SUPERUSER_PASSWORD="first password")
    result = run(project, "changepassword", "root", stdin="second password\nsecond password\n")
    assert result.returncode == 0, result.stderr
    assert check_login(project, "root", "second password")[2] == "True"
    assert check_login(project, "root", "first password")[2] == "False"


def test_changepassword_of_an_unknown_user(project: Path) -> None:
    result = run(project, "changepassword", "ghost")
    assert result.returncode == 1
    assert result.stderr == "Error: no user named 'ghost'\n"


def test_changepassword_without_input_reads_the_password_from_the_environment(project: Path) -> None:
    run(project, "createsuperuser", "--username", "root", "--no-input", FASTMANGO_SUPERUSER_PASSWORD="first password")
    result = run(project, "changepassword", "root", "--no-input", FASTMANGO_PASSWORD="third password")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Password changed for 'root'.\n"
    assert check_login(project, "root", "third password")[2] == "True"


def test_changepassword_no_input_without_the_variable_is_one_error_line(project: Path) -> None:
    result = run(project, "changepassword", "root", "--no-input", stdin="typed password\ntyped password\n")
    assert result.returncode == 1
    assert result.stderr == (
        "Error: --no-input needs the new password in the FASTMANGO_PASSWORD environment variable\n"
    )
