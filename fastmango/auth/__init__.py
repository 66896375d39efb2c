"""Auth: users, groups, permissions, password hashing, JWT and FastAPI dependencies (issue 4).

Nothing public here yet; the layer exists so that imports keep the direction ARCHITECTURE.md gives.
"""

__all__: list[str] = []
