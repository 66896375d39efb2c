from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fastmango import ImproperlyConfigured, Settings
from fastmango.core.settings import INSECURE_SECRET_KEY, describe_validation_error, mask_url


def test_defaults_are_the_embedded_stack() -> None:
    settings = Settings()
    assert settings.env == "dev"
    assert settings.debug is True
    assert settings.database_url == "sqlite+aiosqlite:///./db.sqlite3"
    assert settings.redis_url is None


def test_platform_variables_work_unprefixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example:5432/app")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("DEBUG", "false")
    settings = Settings()
    assert settings.database_url == "postgresql+asyncpg://u:p@db.example:5432/app"
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.secret_key.get_secret_value() == "s" * 40
    assert settings.debug is False


def test_prefixed_variables_work_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMANGO_DATABASE_URL", "sqlite:///./other.sqlite3")
    monkeypatch.setenv("FASTMANGO_LOG_LEVEL", "debug")
    settings = Settings()
    assert settings.database_url == "sqlite+aiosqlite:///./other.sqlite3"
    assert settings.log_level == "DEBUG"


def test_keyword_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///./env.sqlite3")
    assert Settings(database_url="sqlite:///./kw.sqlite3").database_url == "sqlite+aiosqlite:///./kw.sqlite3"


def test_dotenv_and_profile_file_are_read_profile_file_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("FASTMANGO_ENV=test\nFASTMANGO_PROJECT_NAME=from-dotenv\nREDIS_URL=redis://a\n")
    (tmp_path / ".env.test").write_text("REDIS_URL=redis://from-profile\n")
    settings = Settings()
    assert settings.env == "test"
    assert settings.project_name == "from-dotenv"
    assert settings.redis_url == "redis://from-profile"
    assert settings.debug is False


def test_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("REDIS_URL=redis://dotenv\n")
    monkeypatch.setenv("REDIS_URL", "redis://environment")
    assert Settings().redis_url == "redis://environment"


def test_project_subclass_adds_fields_read_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    class ProjectSettings(Settings):
        greeting: str = "hi"

    monkeypatch.setenv("FASTMANGO_GREETING", "hello")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///./x.sqlite3")
    settings = ProjectSettings()
    assert settings.greeting == "hello"
    assert settings.database_url.endswith("x.sqlite3")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://u@h/db", "unsupported scheme 'mysql'"),
        ("not a url", "is not a database URL"),
        ("postgresql:///nohost", "has no host"),
    ],
)
def test_bad_database_url_is_refused_with_its_name(url: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(database_url=url)
    message = describe_validation_error(info.value)
    assert "DATABASE_URL" in message
    assert fragment in message
    assert "\n" not in message


def test_prod_refuses_debug_on() -> None:
    settings = Settings(env="prod", debug=True, secret_key="k" * 48)
    with pytest.raises(ImproperlyConfigured, match="DEBUG is on"):
        settings.check()


@pytest.mark.parametrize("key", [INSECURE_SECRET_KEY, "short"])
def test_prod_refuses_default_or_short_secret_key(key: str) -> None:
    settings = Settings(env="prod", secret_key=key)
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        settings.check()


def test_prod_with_real_secret_and_debug_off_passes() -> None:
    settings = Settings(env="prod", secret_key="k" * 48)
    assert settings.debug is False
    settings.check()


def test_repr_hides_secret_key_and_database_password() -> None:
    settings = Settings(secret_key="topsecret" * 5, database_url="postgresql://user:hunter2@db/app")
    text = repr(settings)
    assert "hunter2" not in text
    assert "topsecret" not in text
    assert "user:***@db" in text


def test_mask_url_leaves_passwordless_urls_alone() -> None:
    assert mask_url("sqlite+aiosqlite:///./db.sqlite3") == "sqlite+aiosqlite:///./db.sqlite3"
    assert mask_url("redis://:pw@host:6379/0") == "redis://:***@host:6379/0"
