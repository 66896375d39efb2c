"""API: schemas derived from models, ``CRUDRouter``, and query-string filtering for hand-written routes.

from fastmango.api import CRUDRouter, schema_for
"""

from fastmango.api.crud import CRUDRouter
from fastmango.api.filters import BadQueryParameter, FilterSpec
from fastmango.api.pagination import cursor_page_schema, page_schema
from fastmango.api.schemas import schema_for

__all__ = ["BadQueryParameter", "CRUDRouter", "FilterSpec", "cursor_page_schema", "page_schema", "schema_for"]
