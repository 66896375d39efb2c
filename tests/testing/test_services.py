from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fastmango.testing import in_ci, service_reachable

TEST_FILE = """
def test_needs_postgres(postgres_url):
    assert postgres_url.startswith("postgresql://")
"""


def run_pytest(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_x.py").write_text(TEST_FILE)
    base = {"PATH": "/usr/bin:/bin", "FASTMANGO_TEST_POSTGRES_URL": "postgresql://u@127.0.0.1:1/none"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "test_x.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=60,
    )


def test_missing_server_skips_with_a_reason_locally(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, {"CI": ""})
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert "PostgreSQL is not reachable at u@127.0.0.1:1" in result.stdout


def test_missing_server_fails_under_ci(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, {"CI": "true"})
    assert result.returncode == 1
    assert "CI=true" in result.stdout


def test_in_ci_reads_the_ci_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    assert in_ci()
    monkeypatch.setenv("CI", "")
    assert not in_ci()


def test_the_real_servers_are_reachable(postgres_url: str, redis_url: str) -> None:
    assert service_reachable(postgres_url, 5432)
    assert service_reachable(redis_url, 6379)


def test_each_xdist_worker_has_a_postgres_database_and_a_redis_number_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    import asyncpg

    from fastmango.testing import postgres_url_or_skip, redis_url_or_skip

    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    base_postgres, base_redis = postgres_url_or_skip(), redis_url_or_skip()
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    own = postgres_url_or_skip()
    assert own == f"{base_postgres}_gw3"
    assert redis_url_or_skip() == base_redis.rsplit("/", 1)[0] + f"/{(int(base_redis.rsplit('/', 1)[1]) - 3) % 16}"

    async def database_name() -> str:
        connection = await asyncpg.connect(own)  # created on first use
        try:
            return str(await connection.fetchval("SELECT current_database()"))
        finally:
            await connection.close()

    assert asyncio.run(database_name()).endswith("_gw3")
