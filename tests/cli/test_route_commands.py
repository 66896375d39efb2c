"""``fastmango routes`` (fastmango/cli/route_commands.py): every route, its permissions and its AI tool."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, Depends

from fastmango import FastMango, Settings
from fastmango.ai import expose_routes, registry
from fastmango.auth import require_permission
from fastmango.cli.route_commands import route_rows

FASTMANGO = str(Path(sys.executable).parent / "fastmango")


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    tools = dict(registry._tools)
    yield
    registry._tools.clear()
    registry._tools.update(tools)


def test_rows_name_each_routes_permissions_and_tool_in_matching_order() -> None:
    app = FastMango(settings=Settings(database_url="sqlite:///:memory:"), configure_logging=False)
    router = APIRouter(prefix="/authors", dependencies=[Depends(require_permission("author.view"))])

    @router.delete("/{pk}", operation_id="remove_author", dependencies=[Depends(require_permission("author.delete"))])
    async def remove_author(pk: int) -> None:
        """Remove an author."""

    @app.get("/open", operation_id="open_page")
    async def open_page() -> dict[str, str]:
        return {}

    app.include_router(router, prefix="/v1")
    expose_routes(app, operation_ids=["remove_author"])
    rows = route_rows(app)
    paths = [row["path"] for row in rows]
    assert paths.index("/health") < paths.index("/open") < paths.index("/v1/authors/{pk}")
    removal = rows[paths.index("/v1/authors/{pk}")]
    assert removal == {
        "methods": ["DELETE"],
        "path": "/v1/authors/{pk}",
        "name": "remove_author",
        "permissions": ["author.view", "author.delete"],
        "tool": "remove_author",
    }
    assert rows[paths.index("/open")]["permissions"] == [] and rows[paths.index("/open")]["tool"] is None


def test_the_command_prints_a_table_and_json_for_a_new_project(tmp_path: Path) -> None:
    subprocess.run([FASTMANGO, "init", "shop"], check=True, capture_output=True, timeout=60)
    root = tmp_path / "shop"
    table = subprocess.run([FASTMANGO, "routes"], cwd=root, capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    header, *lines = table.stdout.splitlines()
    assert header.split() == ["METHODS", "PATH", "NAME", "PERMISSIONS", "AI", "TOOL"]
    assert any(line.split()[:3] == ["POST", "/auth/token", "auth_token"] for line in lines)
    listed = subprocess.run([FASTMANGO, "routes", "--json"], cwd=root, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    found = {row["path"]: row for row in json.loads(listed.stdout)}
    assert found["/health"]["methods"] == ["GET"]
    assert set(found["/health"]) == {"methods", "path", "name", "permissions", "tool"}


def test_outside_a_project_it_says_so_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run([FASTMANGO, "routes"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1
