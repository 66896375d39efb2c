"""Admin: the admin site built on the CRUD API.

Nothing public here yet; the layer exists so that imports keep the direction ARCHITECTURE.md gives.
"""

__all__: list[str] = []
