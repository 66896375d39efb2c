"""``fastmango.core.lazy``: names a package imports on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fastmango.core.lazy import lazy_attributes


def test_a_lazy_name_is_imported_on_first_use_and_kept() -> None:
    namespace: dict[str, object] = {"__name__": "pkg", "__all__": ["dumps", "plain"], "plain": 1}
    getattr_, _ = lazy_attributes(namespace, {"dumps": "json"})
    assert "dumps" not in namespace
    import json

    assert getattr_("dumps") is json.dumps
    assert namespace["dumps"] is json.dumps


def test_an_unknown_name_raises_attribute_error_naming_the_package() -> None:
    getattr_, _ = lazy_attributes({"__name__": "pkg", "__all__": []}, {"dumps": "json"})
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'nope'"):
        getattr_("nope")


def test_dir_lists_the_public_names() -> None:
    _, dir_ = lazy_attributes({"__name__": "pkg", "__all__": ["b", "a"]}, {"b": "json"})
    assert dir_() == ["a", "b"]


@pytest.mark.parametrize("package", ["fastmango", "fastmango.core"])
def test_a_package_loads_the_app_only_when_asked(package: str) -> None:
    code = (
        f"import sys, {package} as p\n"
        "assert 'fastmango.core.app' not in sys.modules\n"
        "assert 'FastMango' in dir(p)\n"
        "from fastmango.core.app import FastMango\n"
        "assert p.FastMango is FastMango and vars(p)['FastMango'] is FastMango\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
