"""Deploy checks of the database (``fastmango check --deploy``): SQLite in production (fastmango.W911).

The ordinary database checks run under ``--deploy`` too, on the production settings: migrations the database
lacks (W101) and model changes that no migration holds (E101).
"""

from __future__ import annotations

from fastmango.core.system_checks import CheckContext, Finding, register


@register("deploy", scope="settings", deploy=True)
def check_sqlite(context: CheckContext) -> list[Finding]:
    """W911: the database is SQLite (one writer at a time, one machine)."""
    if not context.settings.is_sqlite:
        return []
    return [
        Finding(
            "fastmango.W911",
            "warning",
            "the database is SQLite: one writer at a time, and only the processes of one machine can share it "
            "(no scale-out, no second web or worker container)",
            hint="set DATABASE_URL=postgresql://user:password@host:5432/name (keep SQLite only for a "
            "single-process deployment on one machine with a persistent disk)",
            obj="DATABASE_URL",
        )
    ]
