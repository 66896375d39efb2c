"""API: schemas derived from models, CRUDRouter, filter/order/pagination parsing (issue 5).

Nothing public here yet; the layer exists so that imports keep the direction ARCHITECTURE.md gives.
"""

__all__: list[str] = []
