"""System checks (Django's): findings about a project's settings, models, routes, agents and tasks.

A check is a function of a :class:`CheckContext` returning :class:`Finding` objects (a coroutine function for
those that read the database). It registers for an area and a scope::

    from fastmango.core import system_checks as checks

    @checks.register("payments")
    def stripe_key(context: checks.CheckContext) -> list[checks.Finding]:
        if context.settings.env == "prod" and not context.settings.stripe_key:
            return [checks.Finding("payments.E001", "error", "STRIPE_KEY is not set", hint="set STRIPE_KEY")]
        return []

The scope says what the check needs: ``settings`` (the settings alone: it runs even when the app refuses to
start), ``app`` (the loaded app, its registries filled by discovery) or ``database`` (it reads the database; the
rest of the checks do no I/O, so ``fastmango dev`` runs them before serving and these later, from a thread).
``fastmango check`` runs them all. The built-in checks live in their layers and are imported by dotted path,
as the default plugins are, so that core imports no higher layer.

A check registered with ``deploy=True`` judges the settings as production would run them (an SQLite database, no
budget on AI usage, a debug panel left on): it runs only under ``fastmango check --deploy``, which runs the
ordinary checks too. Their ids are ``fastmango.E9xx/W9xx/I9xx`` (area ``deploy``).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fastmango.core.settings import INSECURE_SECRET_KEY, MIN_SECRET_KEY_LENGTH

if TYPE_CHECKING:
    from fastmango.core.declarations import DeclarationError
    from fastmango.core.settings import Settings

Level = Literal["error", "warning", "info"]
Scope = Literal["settings", "app", "database"]
LEVELS: tuple[Level, ...] = ("error", "warning", "info")
SCOPES: tuple[Scope, ...] = ("settings", "app", "database")

#: Modules whose import registers the built-in checks (beyond this one's settings and route checks).
BUILTIN_CHECKS = [
    "fastmango.auth.system_checks",
    "fastmango.ai.system_checks",
    "fastmango.tasks.system_checks",
    # fastmango check --deploy's, each in the layer that owns its subject
    "fastmango.core.deploy_checks",
    "fastmango.db.deploy_checks",
    "fastmango.auth.deploy_checks",
    "fastmango.tasks.deploy_checks",
    "fastmango.ai.deploy_checks",
    "fastmango.devtools.deploy_checks",
    "fastmango.monitoring.deploy_checks",
]


@dataclass(frozen=True)
class Finding:
    """One thing a check found.

    Attributes:
        id: A stable identifier, ``fastmango.E001`` (the letter is the level's: E, W or I).
        level: ``error`` (``fastmango check`` exits 1), ``warning`` or ``info``.
        message: What is wrong.
        hint: How to fix it.
        obj: What it is about (a setting, a table, a route, an agent, a task), when it is about one thing.
    """

    id: str
    level: Level
    message: str
    hint: str = ""
    obj: str | None = None

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {self.level!r}")

    @property
    def is_error(self) -> bool:
        """Whether it makes ``fastmango check`` fail."""
        return self.level == "error"

    def as_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data."""
        return {"id": self.id, "level": self.level, "message": self.message, "hint": self.hint, "obj": self.obj}


@dataclass
class CheckContext:
    """What checks look at.

    Attributes:
        settings: The project's settings.
        app: The project's app (None when it refuses to load: then only ``settings`` checks run).
        migrations_dir: The project's migrations folder (None: the models checks say nothing about migrations).
        declaration_errors: The declaration errors collected while the app loaded (``fastmango check`` loads it
            inside :func:`fastmango.core.declarations.collecting`, so that every typo is found, not the first).
    """

    settings: Settings
    app: Any = None
    migrations_dir: Path | None = None
    declaration_errors: list[DeclarationError] = field(default_factory=list)


CheckFunction = Callable[[CheckContext], Iterable[Finding] | Awaitable[Iterable[Finding]]]


@dataclass(frozen=True)
class Check:
    """A registered check function with its area and scope (``deploy``: only under ``fastmango check --deploy``)."""

    area: str
    function: CheckFunction
    scope: Scope = "app"
    deploy: bool = False

    @property
    def name(self) -> str:
        """``module.function``."""
        return f"{self.function.__module__}.{getattr(self.function, '__qualname__', self.function)}"


_registry: dict[str, Check] = {}
_builtins_loaded = False


def register(area: str, *, scope: Scope = "app", deploy: bool = False) -> Callable[[CheckFunction], CheckFunction]:
    """Register the decorated function as a check of ``area`` (registering it again replaces it).

    Args:
        area: What it checks (``payments``).
        scope: What it needs: ``settings``, ``app`` or ``database`` (see the module's docstring).
        deploy: Run it only under ``fastmango check --deploy`` (a finding about production, not development).
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")

    def decorate(function: CheckFunction) -> CheckFunction:
        if scope != "database" and inspect.iscoroutinefunction(function):
            raise ValueError(f"{scope} checks run before the server serves, without I/O: make it a plain function")
        check = Check(area, function, scope, deploy)
        _registry[check.name] = check
        return function

    return decorate


def unregister(function: CheckFunction) -> None:
    """Remove a registered check (tests use it to clean up)."""
    for name, check in list(_registry.items()):
        if check.function is function:
            del _registry[name]


def registered(scopes: Iterable[Scope] = SCOPES, *, deploy: bool = False) -> list[Check]:
    """The registered checks of ``scopes``, the built-in ones included, in registration order (the deploy checks
    too when ``deploy``)."""
    global _builtins_loaded
    if not _builtins_loaded:
        for module in BUILTIN_CHECKS:
            importlib.import_module(module)
        _builtins_loaded = True
    wanted = set(scopes)
    return [check for check in _registry.values() if check.scope in wanted and (deploy or not check.deploy)]


async def run_checks(context: CheckContext, scopes: Iterable[Scope] = SCOPES, *, deploy: bool = False) -> list[Finding]:
    """Run the checks of ``scopes`` that ``context`` allows (the deploy checks too when ``deploy``); errors first,
    then warnings, then infos.

    A check that raises becomes an error finding naming it (``fastmango.E000``): one broken check does not hide
    what the others find.
    """
    findings: list[Finding] = []
    for check in registered(scopes, deploy=deploy):
        if check.scope != "settings" and context.app is None:
            continue
        try:
            result = check.function(context)
            if inspect.isawaitable(result):
                result = await result
            findings.extend(result)
        except Exception as exc:
            findings.append(_failed(check, exc))
    return _ordered(findings)


def run_checks_now(
    context: CheckContext, scopes: Iterable[Scope] = ("settings", "app"), *, deploy: bool = False
) -> list[Finding]:
    """Run the checks of ``scopes`` (not ``database``: those are coroutines) without an event loop, as
    ``fastmango dev`` does from its running one."""
    findings: list[Finding] = []
    for check in registered((scope for scope in scopes if scope != "database"), deploy=deploy):
        if check.scope != "settings" and context.app is None:
            continue
        try:
            result = check.function(context)
            if inspect.isawaitable(result):  # a check registered with a wrong scope by hand
                raise TypeError("the check is a coroutine function; register it with scope='database'")
            findings.extend(result)
        except Exception as exc:
            findings.append(_failed(check, exc))
    return _ordered(findings)


def _failed(check: Check, exc: Exception) -> Finding:
    return Finding(
        "fastmango.E000",
        "error",
        f"the check {check.name} failed: {type(exc).__name__}: {exc}",
        hint="fix what the message names (or the check itself)",
        obj=check.area,
    )


def _ordered(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda finding: LEVELS.index(finding.level))


def area_of(finding: Finding) -> str:
    """The area a built-in finding's id belongs to (``fastmango.W201``: routes); ``other`` for the rest."""
    prefix, _, code = finding.id.partition(".")
    if prefix != "fastmango" or len(code) != 4 or not code[1:].isdigit():
        return prefix or "other"
    return "project" if code[1:] == "000" else _AREAS.get(code[1], "other")


_AREAS = {"0": "settings", "1": "models", "2": "routes", "3": "ai", "4": "tasks", "5": "admin", "9": "deploy"}


# Declarations (the ids of the layers that own them: E201-E203 api, E305 ai, E501-E504 admin)


@register("declarations", scope="settings")
def check_declarations(context: CheckContext) -> list[Finding]:
    """Each declaration naming an unknown field, relation, action or option, as its layer's finding."""
    return [
        Finding(error.id, "error", str(error), hint=error.hint, obj=error.obj) for error in context.declaration_errors
    ]


# Settings (fastmango.E001-E009, W001-W009)


@register("settings", scope="settings")
def check_settings(context: CheckContext) -> list[Finding]:
    """DEBUG on in prod (E001), a default or short SECRET_KEY in prod (E002) or in test (W001)."""
    settings = context.settings
    findings = []
    if settings.env == "prod" and settings.debug:
        findings.append(
            Finding(
                "fastmango.E001",
                "error",
                "DEBUG is on in the prod profile",
                hint="set DEBUG=false (or FASTMANGO_ENV=dev for local work)",
                obj="DEBUG",
            )
        )
    key = settings.secret_key.get_secret_value()
    if settings.env != "dev" and (key == INSECURE_SECRET_KEY or len(key) < MIN_SECRET_KEY_LENGTH):
        what = "is the default" if key == INSECURE_SECRET_KEY else f"is shorter than {MIN_SECRET_KEY_LENGTH} characters"
        findings.append(
            Finding(
                "fastmango.E002" if settings.env == "prod" else "fastmango.W001",
                "error" if settings.env == "prod" else "warning",
                f"SECRET_KEY {what} in the {settings.env} profile: anyone who knows it can sign tokens",
                hint=f"set SECRET_KEY to a random string of at least {MIN_SECRET_KEY_LENGTH} characters, e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'",
                obj="SECRET_KEY",
            )
        )
    return findings


# Routes (fastmango.W201)

#: A value each Starlette convertor accepts, to build a URL that a route with parameters answers.
_SAMPLES = {"str": "fastmango-sample", "int": "1", "float": "1.5", "path": "fastmango/sample"}
_SAMPLE_UUID = "00000000-0000-4000-8000-000000000000"


@register("routes")
def check_shadowed_routes(context: CheckContext) -> list[Finding]:
    """A route that an earlier one answers for (``/posts/{pk}`` before ``/posts/latest``, same method): W201."""
    from starlette.routing import compile_path

    routes = []
    for route in served_routes(context.app):
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if isinstance(path, str) and methods:
            regex, _, convertors = compile_path(path)
            routes.append((path, set(methods) - {"HEAD"} or set(methods), regex, _sample(path, convertors)))
    findings = []
    for index, (path, methods, _, sample) in enumerate(routes):
        remaining = set(methods)
        for earlier_path, earlier_methods, earlier_regex, _ in routes[:index]:
            shared = remaining & earlier_methods
            if not shared or not earlier_regex.match(sample):
                continue
            remaining -= shared
            findings.append(
                Finding(
                    "fastmango.W201",
                    "warning",
                    f"{', '.join(sorted(shared))} {path} is unreachable: {earlier_path}, declared before it, "
                    "answers the same requests",
                    hint=f"declare {path} before {earlier_path} (or give {earlier_path}'s parameter a type, "
                    "e.g. {pk:int}, that does not match it)",
                    obj=path,
                )
            )
            if not remaining:
                break
    return findings


def served_routes(app: Any) -> list[Any]:
    """``app``'s routes in the order requests try them, those of included routers in their place, each with its
    full path (FastAPI 0.165 keeps an included router as one route; ``iter_route_contexts`` walks it)."""
    from fastapi import routing

    iterate = getattr(routing, "iter_route_contexts", None)
    return list(iterate(app.routes)) if iterate is not None else list(app.routes)


def _sample(path: str, convertors: dict[str, Any]) -> str:
    """``path`` with each parameter replaced by a value its convertor accepts."""
    from starlette.routing import compile_path

    _, path_format, _ = compile_path(path)
    values = {}
    for name, convertor in convertors.items():
        kind = type(convertor).__name__.removesuffix("Convertor").lower()
        values[name] = _SAMPLE_UUID if kind == "uuid" else _SAMPLES.get(kind, "fastmango-sample")
    return path_format.format(**values)
