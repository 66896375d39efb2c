"""Deploy checks of the core settings (``fastmango check --deploy``): DEBUG (fastmango.E901), the secret key
(E902), CORS for every origin with credentials (E903), several web workers without Redis (W901).

In the prod profile the ordinary checks already report DEBUG (E001) and a default or short secret key (E002);
these say what those do not: the same in another profile, and a key that is long but not random.
"""

from __future__ import annotations

import os
from typing import Any

from fastmango.core.settings import INSECURE_SECRET_KEY, MIN_SECRET_KEY_LENGTH
from fastmango.core.system_checks import CheckContext, Finding, register

#: A key must have this many distinct characters: a generated one of 32 or more has about 14 (hex) to 30
#: (``secrets.token_urlsafe``); a typed one ("k" * 48, "changeme" * 4) has fewer.
MIN_SECRET_KEY_DISTINCT = 10
#: How to make a key, in each hint.
MAKE_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


def secret_key_weakness(key: str) -> str | None:
    """Why ``key`` is no secret (None: it is not the default, has at least ``MIN_SECRET_KEY_LENGTH`` characters
    and at least ``MIN_SECRET_KEY_DISTINCT`` distinct ones)."""
    if key == INSECURE_SECRET_KEY:
        return "is the default"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"is shorter than {MIN_SECRET_KEY_LENGTH} characters"
    distinct = len(set(key))
    if distinct < MIN_SECRET_KEY_DISTINCT:
        return (
            f"has {distinct} distinct character(s), fewer than {MIN_SECRET_KEY_DISTINCT}: it was typed, not generated"
        )
    return None


@register("deploy", scope="settings", deploy=True)
def check_debug_and_secret_key(context: CheckContext) -> list[Finding]:
    """E901: DEBUG on outside the prod profile; E902: a secret key that is no secret (E001/E002 say it in prod)."""
    settings = context.settings
    findings = []
    if settings.debug and settings.env != "prod":
        findings.append(
            Finding(
                "fastmango.E901",
                "error",
                f"DEBUG is on (the {settings.env} profile): deployed, error pages would show tracebacks, settings "
                "and SQL to anyone",
                hint="set DEBUG=false in the production environment (or .env.prod)",
                obj="DEBUG",
            )
        )
    key = settings.secret_key.get_secret_value()
    weakness = secret_key_weakness(key)
    said_by_e002 = settings.env == "prod" and (key == INSECURE_SECRET_KEY or len(key) < MIN_SECRET_KEY_LENGTH)
    if weakness is not None and not said_by_e002:
        findings.append(
            Finding(
                "fastmango.E902",
                "error",
                f"SECRET_KEY {weakness}: anyone who guesses it can sign tokens (log in as anyone, the admin's "
                "superusers included)",
                hint=f"set SECRET_KEY in the production environment (or .env.prod) to a generated key: {MAKE_KEY}",
                obj="SECRET_KEY",
            )
        )
    return findings


@register("deploy", deploy=True)
def check_cors(context: CheckContext) -> list[Finding]:
    """E903: a CORSMiddleware allowing every origin (``*``) with credentials (Starlette then echoes any origin)."""
    findings = []
    for middleware in getattr(context.app, "user_middleware", []):
        if getattr(middleware.cls, "__name__", "") != "CORSMiddleware":
            continue
        options: dict[str, Any] = dict(middleware.kwargs)
        if "*" in list(options.get("allow_origins", ())) and options.get("allow_credentials"):
            findings.append(
                Finding(
                    "fastmango.E903",
                    "error",
                    'CORSMiddleware allows every origin ("*") with credentials: any web site can send requests '
                    "with your users' cookies and read the answers",
                    hint="list your front-ends' origins in allow_origins=[...] (or drop allow_credentials=True)",
                    obj="CORSMiddleware",
                )
            )
    return findings


def web_workers() -> int | None:
    """The web processes ``WEB_CONCURRENCY`` asks for (None: it is not set, or not a number)."""
    value = os.environ.get("WEB_CONCURRENCY", "").strip()
    return int(value) if value.isdigit() else None


@register("deploy", scope="settings", deploy=True)
def check_shared_state(context: CheckContext) -> list[Finding]:
    """W901: no REDIS_URL, and several web workers: ``WEB_CONCURRENCY`` above 1, or unset (then ``fastmango serve``
    starts one worker per core): what Redis would share stays in each process."""
    settings = context.settings
    workers = web_workers()
    if settings.redis_url or workers == 1:
        return []
    how_many = (
        f"WEB_CONCURRENCY is {workers}"
        if workers is not None
        else "WEB_CONCURRENCY is not set (fastmango serve then starts one worker per core)"
    )
    return [
        Finding(
            "fastmango.W901",
            "warning",
            f"{how_many} and REDIS_URL is not set: each worker keeps its own login rate limits (a client gets "
            "as many attempts per worker), cache, metrics (/metrics shows one worker's), log stream and debug records",
            hint="set REDIS_URL (every process then shares them), or run one worker: WEB_CONCURRENCY=1",
            obj="REDIS_URL",
        )
    ]
