"""The tasks layer's Alembic revisions (branch ``fastmango_tasks``), applied by ``fastmango migrate``."""
