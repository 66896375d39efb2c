"""The example project's own test suite passes, run as its users would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BLOG = Path(__file__).resolve().parents[2] / "examples" / "blog"


def test_blog_example_suite_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=BLOG,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
