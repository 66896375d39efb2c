"""Database: Django-style async ``Model.objects`` on SQLModel, transactions, and connection helpers.

from fastmango.db import Model, Field, Relationship, Q, F, Count, transaction
"""

from sqlmodel import Field

from fastmango.db.engine import Database, configure, connect, connected, disconnect, get_database
from fastmango.db.errors import (
    DatabaseUnavailable,
    FieldError,
    FieldNotLoaded,
    IntegrityError,
    ModelDefinitionError,
    MultipleObjectsReturned,
    NaiveDatetimeError,
    NotLoaded,
    ObjectDoesNotExist,
    RelationNotLoaded,
)
from fastmango.db.expressions import Aggregate, Avg, Count, F, Max, Min, Q, Sum
from fastmango.db.manager import Manager
from fastmango.db.models import Model, Relationship
from fastmango.db.query import QuerySet, ValuesQuerySet
from fastmango.db.schema import create_all, drop_all
from fastmango.db.session import in_transaction, on_commit, run_on_commit, transaction
from fastmango.db.types import UTCDateTime

__all__ = [
    "Aggregate",
    "Avg",
    "Count",
    "Database",
    "DatabaseUnavailable",
    "F",
    "Field",
    "FieldError",
    "FieldNotLoaded",
    "IntegrityError",
    "Manager",
    "Max",
    "Min",
    "Model",
    "ModelDefinitionError",
    "MultipleObjectsReturned",
    "NaiveDatetimeError",
    "NotLoaded",
    "ObjectDoesNotExist",
    "Q",
    "QuerySet",
    "RelationNotLoaded",
    "Relationship",
    "Sum",
    "UTCDateTime",
    "ValuesQuerySet",
    "configure",
    "connect",
    "connected",
    "create_all",
    "disconnect",
    "drop_all",
    "get_database",
    "in_transaction",
    "on_commit",
    "run_on_commit",
    "transaction",
]
