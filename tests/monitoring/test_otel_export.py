"""OpenTelemetry export of the metrics: with Logfire configured, requests show up as exported metric points by route
template, method and status; each export carries what the process added since the last one; with Logfire off the
export is not even imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from logfire.testing import CaptureLogfire

from fastmango import FastMango
from fastmango.monitoring.metrics import Registry
from tests.auth.conftest import started
from tests.monitoring.conftest import build_app

Points = dict[tuple[tuple[str, Any], ...], dict[str, Any]]


def collect(capfire: CaptureLogfire) -> dict[str, Points]:
    """The fastmango metrics of one collection: name -> sorted attributes -> data point."""
    metrics: dict[str, Points] = {}
    for metric in capfire.get_collected_metrics():
        if metric["name"].startswith("fastmango_"):
            points = metrics.setdefault(metric["name"], {})
            for point in metric["data"]["data_points"]:
                points[tuple(sorted(point["attributes"].items()))] = point
    return metrics


def attrs(**values: str) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(values.items()))


async def test_requests_are_exported_by_route_template_method_and_status(
    capfire: CaptureLogfire, tmp_path: Path
) -> None:
    app = build_app(f"sqlite:///{tmp_path}/otel.sqlite3", logfire=True)
    async with started(app) as client:
        for pk in (1, 2, 3):
            assert (await client.get(f"/items/{pk}")).status_code == 200
        await app.state.monitor.flush()  # flushed or pending, a request counts once
        assert (await client.get("/items/x")).status_code == 422
        assert (await client.get("/boom")).status_code == 500

        metrics = collect(capfire)
        requests = metrics["fastmango_http_requests"]
        assert requests[attrs(route="/items/{pk}", method="GET", status="200")]["value"] == 3
        assert requests[attrs(route="/items/{pk}", method="GET", status="422")]["value"] == 1
        assert requests[attrs(route="/boom", method="GET", status="500")]["value"] == 1
        assert len(requests) == 3
        duration = metrics["fastmango_http_request_duration_seconds"]
        assert duration[attrs(route="/items/{pk}", method="GET")]["count"] == 4
        assert duration[attrs(route="/boom", method="GET")]["count"] == 1
        assert metrics["fastmango_db_statements"][()]["value"] >= 3  # one count(*) per answered /items
        [(labels, rss)] = metrics["fastmango_process_resident_memory_bytes"].items()
        assert dict(labels)["process"] == app.state.monitor.process and rss["value"] > 1_000_000
        assert "fastmango_task_queue_depth" not in metrics  # the queue's, left to /metrics

        # The next export carries only what came since: each process sends its own deltas.
        assert (await client.get("/items/4")).status_code == 200
        await app.state.monitor.flush()
        again = collect(capfire)
        assert again["fastmango_http_requests"][attrs(route="/items/{pk}", method="GET", status="200")]["value"] == 1
        assert again["fastmango_http_request_duration_seconds"][attrs(route="/items/{pk}", method="GET")]["count"] == 1


def test_without_logfire_the_export_is_not_imported(tmp_path: Path) -> None:
    # FastAPI itself imports the OpenTelemetry API (fastapi.telemetry); the SDK and logfire must stay out.
    code = (
        "import asyncio, sys\n"
        "from fastmango import FastMango, Settings\n"
        "from fastmango.testing import app_client\n"
        f"app = FastMango(settings=Settings(database_url='sqlite:///{tmp_path}/off.sqlite3'))\n"
        "async def main():\n"
        "    async with app_client(app) as client:\n"
        "        assert (await client.get('/health')).status_code == 200\n"
        "asyncio.run(main())\n"
        "assert app.state.monitor is not None\n"
        "loaded = {name for name in sys.modules if name.startswith(('logfire', 'opentelemetry.sdk'))}\n"
        "assert 'fastmango.monitoring.otel_export' not in sys.modules and not loaded, loaded\n"
    )
    env = {key: value for key, value in os.environ.items() if "LOGFIRE" not in key}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=env, cwd=tmp_path)


def test_an_app_with_logfire_off_keeps_the_plain_registry(tmp_path: Path) -> None:
    app: FastMango = build_app(f"sqlite:///{tmp_path}/plain.sqlite3")
    assert type(app.state.monitor.registry) is Registry
