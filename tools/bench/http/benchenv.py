"""The benchmark's own virtual environment, ``.venv-bench``: fastmango (editable, with asyncpg, redis and arq) plus the
bench-only packages of ``tools/bench/requirements-bench.txt`` (Django, DRF, Ninja, gunicorn, uvloop...).
None of those ever become fastmango dependencies. Created from the running interpreter on first use, and
reinstalled when the requirements or pyproject.toml change."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tools.bench.http.servers import ROOT

VENV = ROOT / ".venv-bench"
REQUIREMENTS = ROOT / "tools" / "bench" / "requirements-bench.txt"
STAMP_NAME = ".bench-installed"
#: The extras installed: the monitoring benchmark's metrics+redis variant needs the Redis client.
EXTRAS = "postgres,redis"


def _fingerprint() -> str:
    digest = hashlib.sha256(EXTRAS.encode())
    for path in (REQUIREMENTS, ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure(log: Callable[[str], None], venv: Path = VENV) -> str:
    """The Python of an up-to-date bench venv, creating or updating it first.

    Raises:
        RuntimeError: pip failed (its output is in the message).
    """
    python = venv / "bin" / "python"
    stamp = venv / STAMP_NAME
    fingerprint = _fingerprint()
    if python.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return str(python)
    if not python.exists():
        log(f"creating {venv.relative_to(ROOT)} with {sys.executable}")
        _run([sys.executable, "-m", "venv", str(venv)])
    log(f"installing fastmango[{EXTRAS}] and {REQUIREMENTS.relative_to(ROOT)} into {venv.relative_to(ROOT)}")
    _run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    _run([str(python), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[{EXTRAS}]", "-r", str(REQUIREMENTS)])
    stamp.write_text(fingerprint)
    return str(python)


def _run(command: list[str]) -> None:
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")
