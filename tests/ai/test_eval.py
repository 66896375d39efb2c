from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli.test_ai_commands import BLOG, run

EVALS = Path(__file__).resolve().parents[2] / "evals"

FAILING = """
from dataclasses import dataclass
from pydantic_evals import Case, Dataset
from evals.runner import AgentRun, UsedTool

async def task(inputs: str, model: object = None) -> AgentRun:
    return AgentRun(answer="no tools needed")

always_wrong = Dataset[str, AgentRun, object](
    name="always wrong", cases=[Case(name="wants a tool", inputs="hi", evaluators=(UsedTool("search_posts"),))]
)
"""


@pytest.fixture
def blog(tmp_path: Path) -> Path:
    root = tmp_path / "blog"
    shutil.copytree(BLOG, root, ignore=shutil.ignore_patterns("*.sqlite3", "__pycache__"))
    shutil.copytree(EVALS, root / "evals", ignore=shutil.ignore_patterns("__pycache__"))
    assert run(root, "migrate").returncode == 0
    return root


def test_ai_eval_runs_the_assistant_datasets_offline_and_they_pass(blog: Path) -> None:
    result = run(blog, "ai", "eval", "evals/assistant.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Evaluation Summary: assistant: tool choice and arguments" in result.stdout
    assert "Evaluation Summary: assistant: permissions" in result.stdout
    assert "anonymous asks for" in result.stdout and "✗" not in result.stdout
    assert "2 dataset(s): 14 assertions passed, 0 failed, 0 case(s) raised" in result.stdout


def test_ai_eval_exits_1_when_an_assertion_fails(blog: Path) -> None:
    (blog / "evals" / "wrong.py").write_text(FAILING)
    result = run(blog, "ai", "eval", "evals/wrong.py")
    assert result.returncode == 1
    assert "✗" in result.stdout
    assert "0 assertions passed, 1 failed" in result.stdout


def test_ai_eval_of_a_path_without_datasets_is_one_line(blog: Path) -> None:
    result = run(blog, "ai", "eval", "evals/runner.py")
    assert result.returncode == 1
    assert result.stderr == "Error: no pydantic_evals.Dataset found in evals/runner.py\n"
