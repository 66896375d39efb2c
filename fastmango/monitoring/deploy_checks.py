"""Deploy checks of monitoring (``fastmango check --deploy``): ``/metrics`` without a scraper token
(fastmango.I961)."""

from __future__ import annotations

from fastmango.core.system_checks import CheckContext, Finding, register


@register("deploy", scope="settings", deploy=True)
def check_metrics_token(context: CheckContext) -> list[Finding]:
    """I961: metrics are on and ``metrics_token`` is not set (only staff tokens can scrape)."""
    settings = context.settings
    if not settings.metrics or settings.metrics_token is not None:
        return []
    return [
        Finding(
            "fastmango.I961",
            "info",
            f"METRICS_TOKEN is not set: {settings.metrics_path} answers only staff users with monitoring.view, "
            "so Prometheus cannot scrape it without a user's access token (which expires)",
            hint="set FASTMANGO_METRICS_TOKEN to a generated secret and give it to the scraper as its bearer token "
            "(or FASTMANGO_METRICS=false when nothing scrapes)",
            obj="metrics_token",
        )
    ]
