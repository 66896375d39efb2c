"""fastmango.core.discovery: the app loads the project's convention modules when it is configured."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastmango.core.errors import ImproperlyConfigured
from fastmango.core.lazy import import_string
from fastmango.testing import app_client

SETTINGS = "import fastmango\n\n\nclass Settings(fastmango.Settings):\n    pass\n"
APP = "from fastmango import FastMango\n\nfrom {pkg}.settings import Settings\n\napp = FastMango(settings=Settings())\n"
ROUTES = textwrap.dedent(
    """
    from fastapi import APIRouter

    router = APIRouter()


    @router.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}
    """
)
TOOLS = "LOADED = []\nLOADED.append('tools')\n"


@pytest.fixture
def make_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Write a project package with the given modules; returns its package name."""
    created: list[str] = []

    def make(modules: dict[str, str], pyproject: str = "") -> str:
        package = f"disc_{uuid.uuid4().hex[:8]}"
        root = tmp_path / package
        (root / package).mkdir(parents=True)
        (root / "pyproject.toml").write_text(f'[tool.fastmango]\napp = "{package}.app:app"\n{pyproject}')
        files = {"__init__": "", "settings": SETTINGS, "app": APP.format(pkg=package), **modules}
        for name, source in files.items():
            (root / package / f"{name}.py").write_text(source)
        monkeypatch.syspath_prepend(str(root))
        created.append(package)
        return package

    yield make
    for name in list(sys.modules):
        if any(name == package or name.startswith(package + ".") for package in created):
            del sys.modules[name]


async def test_routes_and_tools_are_loaded_when_the_app_starts(make_project) -> None:  # type: ignore[no-untyped-def]
    package = make_project({"routes": ROUTES, "tools": TOOLS})
    app = import_string(f"{package}.app:app")
    assert f"{package}.tools" not in sys.modules  # nothing is imported while app.py itself is importing
    async with app_client(app) as client:
        response = await client.get("/ping")
    assert response.status_code == 200
    assert response.json() == {"pong": "yes"}
    assert sys.modules[f"{package}.tools"].LOADED == ["tools"]
    assert [module.__name__ for module in app.discovered] == [f"{package}.tools", f"{package}.routes"]
    assert "/ping" in app.openapi()["paths"]


async def test_a_router_the_app_includes_by_hand_is_not_included_twice(make_project) -> None:  # type: ignore[no-untyped-def]
    package = make_project({"routes": ROUTES})
    app_source = APP.format(pkg=package) + f"from {package} import routes\n\napp.include_router(routes.router)\n"
    import importlib.util

    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations
    (Path(next(iter(spec.submodule_search_locations))) / "app.py").write_text(app_source)
    app = import_string(f"{package}.app:app")
    async with app_client(app):
        paths = [operation for operation in app.openapi()["paths"] if operation == "/ping"]
    assert paths == ["/ping"]
    assert len(app.discovered) == 1 and app.discovered[0].__name__ == f"{package}.routes"
    assert sum(getattr(route, "original_router", None) is app.discovered[0].router for route in app.router.routes) == 1


async def test_the_pyproject_list_chooses_the_modules(make_project) -> None:  # type: ignore[no-untyped-def]
    package = make_project({"routes": ROUTES, "tools": TOOLS}, pyproject='discover = ["tools"]\n')
    app = import_string(f"{package}.app:app")
    async with app_client(app) as client:
        assert (await client.get("/ping")).status_code == 404
    assert [module.__name__ for module in app.discovered] == [f"{package}.tools"]


async def test_a_module_that_fails_to_import_stops_the_start_naming_it(make_project) -> None:  # type: ignore[no-untyped-def]
    package = make_project({"tools": "from fastmango import no_such_name\n"})
    app = import_string(f"{package}.app:app")
    with pytest.raises(ImproperlyConfigured, match=rf"cannot import '{package}.tools'.*no_such_name"):
        async with app_client(app):
            pass


def test_a_bad_discover_setting_is_named(make_project) -> None:  # type: ignore[no-untyped-def]
    package = make_project({}, pyproject='discover = "tools"\n')
    app = import_string(f"{package}.app:app")
    with pytest.raises(ImproperlyConfigured, match=r"discover in .*pyproject.toml must be a list of module names"):
        app.configure_plugins()


def test_an_app_with_fastmangos_own_settings_discovers_nothing() -> None:
    from fastmango import FastMango

    app = FastMango()
    app.configure_plugins()
    assert app.discovered == []


async def test_discovered_routes_come_before_the_routes_app_py_adds(make_project) -> None:  # type: ignore[no-untyped-def]
    routes = (
        ROUTES
        + '\n\n@router.get("/things/latest")\nasync def latest() -> dict[str, str]:\n    return {"from": "routes"}\n'
    )
    package = make_project({"routes": routes})
    app = import_string(f"{package}.app:app")

    @app.get("/things/{pk}")
    async def thing(pk: int) -> dict[str, int]:
        return {"pk": pk}

    async with app_client(app) as client:
        assert (await client.get("/things/latest")).json() == {"from": "routes"}
        assert (await client.get("/things/7")).json() == {"pk": 7}
        assert (await client.get("/health")).status_code == 200
