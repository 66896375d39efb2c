"""Deploy checks of authentication (``fastmango check --deploy``): the login cookie sent over plain HTTP
(fastmango.W921), every client trusted as a proxy (W922).

fastmango sets no HSTS header and redirects no HTTP request: TLS ends at the proxy or platform in front of the
app, which does both (docs/deploy.md). It has no allowed-hosts setting either.
"""

from __future__ import annotations

from fastmango.core.system_checks import CheckContext, Finding, register


@register("deploy", scope="settings", deploy=True)
def check_cookie_and_proxies(context: CheckContext) -> list[Finding]:
    """W921: ``auth_cookie_secure`` off; W922: ``forwarded_allow_ips`` has ``*``."""
    settings = context.settings
    findings = []
    secure = settings.auth_cookie_secure if settings.auth_cookie_secure is not None else settings.env != "dev"
    if not secure:
        findings.append(
            Finding(
                "fastmango.W921",
                "warning",
                "the login cookie (POST /auth/token?cookie=true) is not Secure: browsers send it over plain HTTP, "
                "where anyone on the network can read it",
                hint="remove FASTMANGO_AUTH_COOKIE_SECURE=false (it is on by default outside dev) and serve HTTPS",
                obj="auth_cookie_secure",
            )
        )
    if "*" in settings.forwarded_allow_ips:
        findings.append(
            Finding(
                "fastmango.W922",
                "warning",
                'FORWARDED_ALLOW_IPS is "*": any client can set X-Forwarded-For and pass for another address '
                "(the login rate limits count the address it claims: a guesser changes it at each attempt)",
                hint="list only your proxy's addresses or network: FORWARDED_ALLOW_IPS=10.0.0.0/8 (or its IP)",
                obj="forwarded_allow_ips",
            )
        )
    return findings
