"""Create and drop every model's table directly (for tests; projects use migrations)."""

from __future__ import annotations

from sqlmodel import SQLModel

from fastmango.db.engine import get_database


async def create_all() -> None:
    """Create the tables of every imported model that do not exist yet."""
    async with get_database().engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)


async def drop_all() -> None:
    """Drop the tables of every imported model."""
    async with get_database().engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.drop_all)
