"""API: a model's ``ModelResource`` (declared once for HTTP, AI tools and the admin), ``CRUDRouter`` over it,
schemas derived from models, and query-string filtering for hand-written routes.

from fastmango.api import Caller, CRUDRouter, ModelResource, schema_for
"""

from fastmango.api.crud import CRUDRouter
from fastmango.api.filters import BadQueryParameter, FilterSpec
from fastmango.api.pagination import cursor_page_schema, page_schema
from fastmango.api.resource import Caller, ModelResource
from fastmango.api.schemas import schema_for

__all__ = [
    "BadQueryParameter",
    "CRUDRouter",
    "Caller",
    "FilterSpec",
    "ModelResource",
    "cursor_page_schema",
    "page_schema",
    "schema_for",
]
