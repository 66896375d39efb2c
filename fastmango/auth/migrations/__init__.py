"""The auth layer's Alembic revisions (branch ``fastmango_auth``), applied by ``fastmango migrate``."""
