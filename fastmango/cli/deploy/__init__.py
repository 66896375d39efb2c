"""``fastmango build`` and ``fastmango deploy``: a project's production files, generated from what it declares.

:mod:`~fastmango.cli.deploy.spec` reads the project into a :class:`DeploySpec` (its name, Python version,
dependency lock, tasks and cron schedules); :mod:`~fastmango.cli.deploy.generate` renders the files from the
templates in ``fastmango/templates/deploy`` (pure functions of the spec); :mod:`~fastmango.cli.deploy.platforms`
says what to run on each platform. The commands live in :mod:`fastmango.cli.deploy_commands`.
"""

from fastmango.cli.deploy.generate import TARGETS, GeneratedFile, build_files, target_files
from fastmango.cli.deploy.spec import HEALTH_PATH, READY_PATH, DeploySpec, Schedule, inspect_project

__all__ = [
    "HEALTH_PATH",
    "READY_PATH",
    "TARGETS",
    "DeploySpec",
    "GeneratedFile",
    "Schedule",
    "build_files",
    "inspect_project",
    "target_files",
]
