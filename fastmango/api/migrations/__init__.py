"""The API layer's Alembic revisions (branch ``fastmango_api``: the history of writes), for ``fastmango migrate``."""
