"""The committed admin build (``fastmango/admin/static/``) is what its sources build to.

``make admin`` rebuilds it; this test copies the sources to a temporary folder, installs the locked packages
there (``npm ci``, from the npm cache when it has them) and builds into another folder with the same Vite
config, then compares the two trees file by file. Vite's output is deterministic for a given config and lock
(content-hashed names, no timestamps), so any difference means the sources changed without a rebuild. About
15 s here. Without Node it skips locally and fails under ``CI=true``.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "fastmango" / "admin" / "frontend"
STATIC = ROOT / "fastmango" / "admin" / "static"


def npm_or_skip() -> str:
    npm = shutil.which("npm")
    if npm is None:
        message = "Node.js and npm are needed to check the admin build (apt-get install nodejs npm)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return npm


def tree(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


def test_the_committed_build_matches_its_sources(tmp_path: Path) -> None:
    npm = npm_or_skip()
    sources = tmp_path / "frontend"
    shutil.copytree(FRONTEND, sources, ignore=shutil.ignore_patterns("node_modules"))
    output = tmp_path / "static"
    environment = {**os.environ, "npm_config_update_notifier": "false"}
    steps = [
        [npm, "ci", "--no-audit", "--no-fund", "--prefer-offline"],
        [npm, "exec", "--", "vite", "build", "--outDir", str(output), "--emptyOutDir", "--logLevel", "warn"],
    ]
    for command in steps:
        result = subprocess.run(command, cwd=sources, env=environment, capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, f"{' '.join(command[1:3])} failed:\n{result.stdout}\n{result.stderr}"

    built, committed = tree(output), tree(STATIC)
    assert built == committed, (
        f"run `make admin` and commit fastmango/admin/static/: only built {sorted(built - committed)}, "
        f"only committed {sorted(committed - built)}"
    )
    _, mismatch, errors = filecmp.cmpfiles(output, STATIC, sorted(built), shallow=False)
    assert not mismatch and not errors, (
        f"run `make admin` and commit fastmango/admin/static/: {mismatch + errors} differ"
    )


def test_the_build_loads_nothing_from_outside() -> None:
    index = (STATIC / "index.html").read_text()
    assert "/admin/assets/" in index
    for path in STATIC.rglob("*"):
        if path.suffix in {".html", ".js", ".css"}:
            text = path.read_text()
            assert "//cdn" not in text and "fonts.googleapis" not in text, path


def test_the_wheel_ships_the_build_and_not_the_sources(fastmango_wheel: Path) -> None:
    wheel = fastmango_wheel
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"fastmango/admin/static/{name}" for name in tree(STATIC)}
    assert "fastmango/admin/static/index.html" in shipped
    assert shipped <= names
    assert not [name for name in names if name.startswith("fastmango/admin/frontend/")]
