"""The deploy checks ``fastmango build`` and ``fastmango deploy`` run first: ``fastmango check --deploy``'s."""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastmango.core.project import Project
    from fastmango.core.system_checks import Finding

#: The function that runs ``fastmango check --deploy``'s checks on a project: ``(project, *, deploy) -> findings``.
DEPLOY_CHECKS_HOOK = ("fastmango.cli.check_commands", "collect_findings")


def deploy_findings(project: Project) -> list[Finding] | None:
    """Run the deploy checks on ``project`` as ``fastmango check --deploy`` does (from its root, with the settings
    production reads); None when this fastmango has no deploy checks."""
    module_name, attribute = DEPLOY_CHECKS_HOOK
    collect = getattr(importlib.import_module(module_name), attribute, None)
    if collect is None:
        return None
    os.chdir(project.root)
    if str(project.root) not in sys.path:
        sys.path.insert(0, str(project.root))
    return list(collect(project, deploy=True))
