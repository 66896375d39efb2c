"""Import optional dependencies where they are used, with an error that names the extra to install."""

from __future__ import annotations

import importlib
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
