"""The AI layer's Alembic revisions (branch ``fastmango_ai``), applied by ``fastmango migrate``."""
