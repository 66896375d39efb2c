"""The Alembic environment fastmango ships; projects do not have one of their own.

fastmango's migration commands hand over the models' metadata and an open connection through the Alembic
config; see :mod:`fastmango.db.migrations.environment`.
"""

from alembic import context

from fastmango.db.migrations.environment import run_environment

run_environment(context)
