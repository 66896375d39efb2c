from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from fastmango import FastMango, Settings
from fastmango.core.logging import configure_logging
from fastmango.testing import app_client


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_prod_logs_one_json_object_per_line_with_the_request_id() -> None:
    stream = io.StringIO()
    settings = Settings(env="prod", secret_key="k" * 48, database_url="sqlite:///:memory:")
    app = FastMango(settings=settings, configure_logging=False)
    configure_logging(settings, stream=stream)

    @app.get("/work")
    async def work() -> dict[str, bool]:
        logging.getLogger("myproject").info("doing work", extra={"order": 7})
        return {"ok": True}

    async with app_client(app) as client:
        response = await client.get("/work")
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = next(r for r in records if r["logger"] == "myproject")
    assert mine["message"] == "doing work"
    assert mine["order"] == 7
    assert mine["level"] == "INFO"
    assert mine["request_id"] == response.headers["x-request-id"]
    access = next(r for r in records if r["logger"] == "fastmango.request")
    assert access["message"].startswith("GET /work 200")
    assert access["request_id"] == response.headers["x-request-id"]


def test_dev_logs_readable_text_without_colors_when_not_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging(Settings(), stream=stream)
    logging.getLogger("myproject").warning("careful")
    line = stream.getvalue().strip()
    assert "WARNING" in line
    assert "myproject [-] careful" in line
    assert "\x1b[" not in line


def test_configuring_twice_does_not_duplicate_lines() -> None:
    stream = io.StringIO()
    configure_logging(Settings(), stream=stream)
    configure_logging(Settings(), stream=stream)
    logging.getLogger("myproject").warning("once")
    assert stream.getvalue().count("once") == 1


def test_log_format_setting_forces_json_in_dev() -> None:
    stream = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=stream)
    logging.getLogger("x").error("boom")
    assert json.loads(stream.getvalue())["message"] == "boom"
