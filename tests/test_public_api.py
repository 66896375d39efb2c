"""The public API changes only on purpose: each package's ``__all__`` is exactly its public names."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

PACKAGES = [
    "fastmango",
    "fastmango.core",
    "fastmango.db",
    "fastmango.auth",
    "fastmango.api",
    "fastmango.admin",
    "fastmango.tasks",
    "fastmango.monitoring",
    "fastmango.ai",
    "fastmango.cli",
    "fastmango.testing",
]
HEAVY = ["pydantic_ai", "openai", "logfire", "arq", "redis"]


def public_names(module: ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, ModuleType) and name != "annotations"
    }


@pytest.mark.parametrize("package", PACKAGES)
def test_all_matches_the_public_names(package: str) -> None:
    module = importlib.import_module(package)
    exported = set(module.__all__)
    assert len(exported) == len(module.__all__), "duplicates in __all__"
    extra = {"__version__"} if package == "fastmango" else set()
    lazy = set(getattr(module, "_LAZY", {}))
    assert exported - extra - lazy == public_names(module) - lazy
    for name in exported:
        assert hasattr(module, name), name


def imported_modules(code: str, cwd: Path | None = None) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, timeout=60)
    assert result.returncode == 0, result.stderr
    return {name.split(".")[0] for name in json.loads(result.stdout.splitlines()[-1])}


def test_import_fastmango_loads_no_heavy_dependency() -> None:
    loaded = imported_modules("import fastmango, fastmango.db, fastmango.cli")
    assert loaded.isdisjoint(HEAVY), loaded & set(HEAVY)


def test_starting_a_generated_project_loads_no_heavy_dependency(tmp_path: Path) -> None:
    fastmango = str(Path(sys.executable).parent / "fastmango")
    subprocess.run([fastmango, "init", "light"], check=True, capture_output=True, timeout=60)
    code = (
        "import asyncio\n"
        "from light.app import app\n"
        "from fastmango.testing import app_client\n"
        "async def main():\n"
        "    async with app_client(app) as client:\n"
        "        assert (await client.get('/health')).status_code == 200\n"
        "asyncio.run(main())"
    )
    loaded = imported_modules(code, cwd=tmp_path / "light")
    assert "fastapi" in loaded
    assert loaded.isdisjoint(HEAVY), loaded & set(HEAVY)
