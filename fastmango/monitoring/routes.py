"""The metrics' HTTP endpoints: ``/metrics`` for Prometheus and the dashboard's JSON under the admin API.

``/metrics`` answers a staff user with ``monitoring.view`` (the admin's session or a Bearer access token) or a
scraper sending ``Authorization: Bearer <metrics_token>``; 401 without credentials, 403 for others, both problem
details. It is left out of the OpenAPI schema.
"""

from __future__ import annotations

import hmac
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from fastmango.auth.dependencies import optional_user, require_staff
from fastmango.auth.errors import NotAuthenticated, PermissionDenied
from fastmango.monitoring.monitor import Monitor
from fastmango.monitoring.permissions import CHANGE, VIEW, require
from fastmango.monitoring.windows import WindowSummary

WINDOWS = {"15m": 15 * 60, "1h": 3600, "24h": 24 * 3600}


async def authorize_scrape(request: Request) -> None:
    """Let the scraper's bearer secret or a staff user with ``monitoring.view`` through; raise 401/403 otherwise."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    bearer = credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None
    secret = request.app.settings.metrics_token
    if (
        bearer is not None
        and secret is not None
        and hmac.compare_digest(bearer.encode(), secret.get_secret_value().encode())
    ):
        return
    user = await optional_user(request, bearer)
    if user is None:
        raise NotAuthenticated("Authentication required: send the metrics token or a staff access token.")
    if not (user.is_staff or user.is_superuser):
        raise PermissionDenied("Staff only.")
    if not await user.has_perm(VIEW):
        raise PermissionDenied(f"This needs the {VIEW} permission.", permission=VIEW)


def metrics_router(monitor: Monitor, path: str = "/metrics") -> APIRouter:
    """``GET path``: the Prometheus text of every process's metrics."""
    router = APIRouter(include_in_schema=False)

    async def metrics(request: Request) -> Response:
        await authorize_scrape(request)
        from fastmango.monitoring import exposition  # prometheus-client, on the first scrape only

        snapshot = await monitor.snapshot()
        return Response(exposition.render(snapshot), media_type=exposition.CONTENT_TYPE)

    router.add_api_route(path, metrics, methods=["GET"])
    return router


def dashboard_router(monitor: Monitor, api_path: str) -> APIRouter:
    """``GET <api_path>/monitoring/overview?window=15m|1h|24h``: the dashboard's summary of a window; ``GET
    <api_path>/monitoring/access``: what the staff user may do (the admin shows the pages and buttons they may use)."""
    # Under the admin's API, which stays out of the app's OpenAPI document as the admin's own routes do.
    router = APIRouter(prefix=f"{api_path}/monitoring", tags=["monitoring"], include_in_schema=False)

    @router.get("/access", operation_id="monitoring_access")
    async def access(user: Any = Depends(require_staff)) -> dict[str, bool]:
        """``view``: the dashboard, task monitor and logs (monitoring.view); ``change``: retry and abort jobs, edit
        alert rules (monitoring.change)."""
        return {"view": await user.has_perm(VIEW), "change": await user.has_perm(CHANGE)}

    @router.get("/overview", dependencies=[require(VIEW)], operation_id="monitoring_overview")
    async def overview(window: Literal["15m", "1h", "24h"] = Query("15m")) -> WindowSummary:
        """Requests, errors, latency, slowest routes and statements, tasks and AI usage of every process."""
        return await monitor.window(WINDOWS[window])

    return router
