from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BLOG = Path(__file__).resolve().parents[2] / "examples" / "blog"
FASTMANGO = str(Path(sys.executable).parent / "fastmango")


@pytest.fixture
def blog(tmp_path: Path) -> Path:
    root = tmp_path / "blog"
    shutil.copytree(BLOG, root, ignore=shutil.ignore_patterns("*.sqlite3", "__pycache__"))
    return root


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{root}/cli.sqlite3"}
    return subprocess.run([FASTMANGO, *args], cwd=root, capture_output=True, text=True, timeout=120, env=env)


def test_ai_tools_lists_the_projects_tools(blog: Path) -> None:
    table = run(blog, "ai", "tools")
    assert table.returncode == 0, table.stderr
    assert "search_posts" in table.stdout and "post_list" in table.stdout
    listed = json.loads(run(blog, "ai", "tools", "--json").stdout)
    tools = {tool["name"]: tool for tool in listed}
    # The blog's posts resource has open reads (rows scoped by user: drafts need post.view) and guarded writes.
    assert tools["post_list"]["permissions"] == []
    assert tools["drafts"]["permissions"] == ["post.view"]
    assert tools["drafts"]["kind"] == "query"
    assert tools["search_posts"]["parameters"]["required"] == ["query"]


def test_ai_run_answers_with_the_offline_test_model(blog: Path) -> None:
    assert run(blog, "migrate").returncode == 0
    result = run(blog, "ai", "run", "assistant", "What is new?")
    assert result.returncode == 0, result.stderr
    assert "search_posts" in result.stdout


def test_ai_run_with_an_unknown_agent_or_user_is_one_line(blog: Path) -> None:
    assert run(blog, "migrate").returncode == 0
    unknown = run(blog, "ai", "run", "nobody", "hi")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("Error: no agent named 'nobody'")
    ghost = run(blog, "ai", "run", "assistant", "hi", "--user", "ghost")
    assert ghost.stderr == "Error: no user named 'ghost'\n"
