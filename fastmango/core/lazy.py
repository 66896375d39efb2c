"""Import optional dependencies where they are used (with an error naming the extra), and package names lazily."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from fastmango.core.errors import MissingDependency


def require(module: str, *, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependency` naming ``pip install "fastmango[extra]"``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        root = module.split(".")[0]
        if exc.name is not None and exc.name != root and not exc.name.startswith(root + "."):
            raise
        raise MissingDependency(
            f'{module} is not installed; it is needed here: pip install "fastmango[{extra}]"'
        ) from exc


def import_string(path: str) -> Any:
    """Import ``"package.module:attribute"`` (or ``package.module.attribute``) and return the attribute."""
    module_name, sep, attribute = path.partition(":")
    if not sep:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise ImportError(f"{path!r} is not an import path like 'package.module:name'")
    module = importlib.import_module(module_name)
    try:
        target: Any = module
        for part in attribute.split("."):
            target = getattr(target, part)
    except AttributeError as exc:
        raise ImportError(f"module {module_name!r} has no attribute {attribute!r}") from exc
    return target


def lazy_attributes(
    namespace: dict[str, Any], targets: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A package's module ``__getattr__`` and ``__dir__`` that import some of its names on first use.

    ``targets`` maps each lazy name to the module it comes from; the first access imports the module and
    stores the value in ``namespace``, so later ones are plain lookups. ``__dir__`` lists ``__all__``::

        _LAZY = {"FastMango": "fastmango.core.app"}
        __getattr__, __dir__ = lazy_attributes(globals(), _LAZY)

    Args:
        namespace: the package's ``globals()``.
        targets: lazy name -> the module that defines it.

    Returns:
        The ``__getattr__`` and ``__dir__`` functions to assign at the package's top level.
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> object:
        if name in targets:
            value = getattr(importlib.import_module(targets[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(namespace["__all__"])

    return __getattr__, __dir__
