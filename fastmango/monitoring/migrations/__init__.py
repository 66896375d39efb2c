"""The monitoring layer's Alembic revisions (branch ``fastmango_monitoring``), applied by ``fastmango migrate``."""
