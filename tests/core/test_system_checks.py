"""fastmango.core.system_checks: the registry, the runner, the settings checks and the shadowed-route check."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter

from fastmango import FastMango, Settings
from fastmango.core import system_checks
from fastmango.core.system_checks import (
    CheckContext,
    Finding,
    area_of,
    check_settings,
    check_shadowed_routes,
    register,
    run_checks,
    run_checks_now,
    unregister,
)

KEY = "k" * 40


def ids(findings: list[Finding]) -> list[str]:
    return [finding.id for finding in findings]


def context_for(app: Any = None, **settings: Any) -> CheckContext:
    return CheckContext(Settings(database_url="sqlite:///:memory:", **settings), app)


def app_with(router: APIRouter) -> FastMango:
    app = FastMango(settings=Settings(database_url="sqlite:///:memory:"), configure_logging=False)
    app.include_router(router)
    return app


def test_debug_in_prod_is_an_error() -> None:
    found = check_settings(context_for(env="prod", debug=True, secret_key=KEY))
    assert ids(found) == ["fastmango.E001"]
    assert found[0].hint.startswith("set DEBUG=false")


def test_default_secret_key_in_prod_is_an_error_and_in_test_a_warning() -> None:
    assert ids(check_settings(context_for(env="prod", debug=False))) == ["fastmango.E002"]
    short = check_settings(context_for(env="prod", debug=False, secret_key="short"))
    assert "shorter than 32 characters" in short[0].message
    assert [(f.id, f.level) for f in check_settings(context_for(env="test"))] == [("fastmango.W001", "warning")]


def test_settings_checks_are_silent_in_dev_and_with_a_real_key() -> None:
    assert check_settings(context_for(env="dev")) == []
    assert check_settings(context_for(env="prod", debug=False, secret_key=KEY)) == []
    assert check_settings(context_for(env="test", secret_key=KEY)) == []


def test_a_route_after_a_parameter_route_with_the_same_method_is_shadowed() -> None:
    router = APIRouter(prefix="/posts")

    @router.get("/{pk}")
    async def post(pk: str) -> None: ...

    @router.api_route("/latest", methods=["GET", "POST"])
    async def latest() -> None: ...

    found = check_shadowed_routes(context_for(app_with(router)))
    assert ids(found) == ["fastmango.W201"]
    assert found[0].obj == "/posts/latest"
    assert found[0].message.startswith("GET /posts/latest is unreachable: /posts/{pk}")  # POST still reaches it
    assert "declare /posts/latest before /posts/{pk}" in found[0].hint


def test_an_included_router_inside_a_prefix_is_checked_in_its_place() -> None:
    inner = APIRouter()

    @inner.get("/items/{name}")
    async def item(name: str) -> None: ...

    @inner.get("/items/{name}")  # declared twice: the second never answers
    async def item_again(name: str) -> None: ...

    outer = APIRouter(prefix="/v1")
    outer.include_router(inner)
    assert [f.obj for f in check_shadowed_routes(context_for(app_with(outer)))] == ["/v1/items/{name}"]


def test_routes_in_the_right_order_or_apart_by_type_or_method_are_not_shadowed() -> None:
    router = APIRouter(prefix="/posts")

    @router.get("/latest")
    async def latest() -> None: ...

    @router.get("/{pk}")
    async def post(pk: str) -> None: ...

    @router.get("/by-id/{pk:int}")
    async def by_id(pk: int) -> None: ...

    @router.get("/by-id/newest")
    async def newest() -> None: ...

    @router.delete("/{pk}/comments")
    async def clear(pk: str) -> None: ...

    @router.get("/{pk}/comments")
    async def comments(pk: str) -> None: ...

    assert check_shadowed_routes(context_for(app_with(router))) == []


def test_the_framework_routes_shadow_none() -> None:
    app = FastMango(settings=Settings(database_url="sqlite:///:memory:"), configure_logging=False)
    assert len(app.routes) > 10  # auth, CRUD, admin, AI usage, tasks
    assert check_shadowed_routes(CheckContext(app.settings, app)) == []


async def test_a_registered_check_runs_and_one_that_raises_becomes_e000() -> None:
    def custom(context: CheckContext) -> list[Finding]:
        return [Finding("payments.W001", "warning", "no key", hint="set it")]

    def broken(context: CheckContext) -> list[Finding]:
        raise RuntimeError("boom")

    register("payments")(custom)
    register("payments")(broken)
    try:
        app = FastMango(settings=Settings(database_url="sqlite:///:memory:"), configure_logging=False)
        found = await run_checks(CheckContext(app.settings, app), ["app"])
    finally:
        unregister(custom)
        unregister(broken)
    assert ids(found) == ["fastmango.E000", "payments.W001"]  # errors first
    assert "RuntimeError: boom" in found[0].message
    assert [area_of(f) for f in found] == ["project", "payments"]


def test_without_an_app_only_settings_checks_run() -> None:
    found = run_checks_now(context_for(None, env="prod", debug=True, secret_key=KEY))
    assert ids(found) == ["fastmango.E001"]


def test_a_coroutine_check_must_be_a_database_check() -> None:
    async def reads(context: CheckContext) -> list[Finding]:
        return []

    with pytest.raises(ValueError, match="plain function"):
        register("x")(reads)
    register("x", scope="database")(reads)
    unregister(reads)


def test_finding_levels_are_checked_and_areas_come_from_ids() -> None:
    with pytest.raises(ValueError, match="level must be one of"):
        Finding("x.E001", "fatal", "m")  # type: ignore[arg-type]
    assert area_of(Finding("fastmango.W201", "warning", "m")) == "routes"
    assert area_of(Finding("fastmango.E101", "error", "m")) == "models"
    assert system_checks.BUILTIN_CHECKS  # the layers' checks register on first use


def test_each_collected_declaration_error_is_a_finding_with_its_layers_id_and_hint() -> None:
    from fastmango.core.declarations import DeclarationError
    from fastmango.core.system_checks import check_declarations

    context = context_for()
    assert check_declarations(context) == []
    context.declaration_errors = [
        DeclarationError("list_display of the admin of Note: 'txet'", id="fastmango.E501", hint="use 'text'", obj="x")
    ]
    found = check_declarations(context)
    assert [(f.id, f.level, f.message, f.hint, f.obj, area_of(f)) for f in found] == [
        ("fastmango.E501", "error", "list_display of the admin of Note: 'txet'", "use 'text'", "x", "admin")
    ]
