"""Drive an ASGI app in-process: lifespan started, requests through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx


@asynccontextmanager
async def app_client(
    app: Any, *, base_url: str = "http://testserver", raise_app_exceptions: bool = False, **kwargs: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """``async with app_client(app) as client:`` runs the app's lifespan and yields an ``httpx.AsyncClient``.

    Args:
        app: The ASGI app (a ``FastMango`` or any ASGI callable).
        base_url: Base URL of requests.
        raise_app_exceptions: Re-raise unhandled exceptions in the test instead of answering 500.
        **kwargs: Passed to ``httpx.AsyncClient`` (``headers``, ``cookies``...).
    """
    import httpx
    from asgi_lifespan import LifespanManager

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url=base_url, **kwargs) as client:
            yield client
