"""fastmango.db.models: what each Model class gets besides its columns."""

from __future__ import annotations

import traceback

from fastmango.db import MultipleObjectsReturned, ObjectDoesNotExist
from tests.db.models import Book


def test_per_model_errors_name_the_module_and_class_once() -> None:
    assert repr(Book.DoesNotExist) == "<class 'tests.db.models.Book.DoesNotExist'>"
    assert repr(Book.MultipleObjectsReturned) == "<class 'tests.db.models.Book.MultipleObjectsReturned'>"
    assert traceback.format_exception_only(Book.DoesNotExist("no book")) == [
        "tests.db.models.Book.DoesNotExist: no book\n"
    ]
    assert issubclass(Book.DoesNotExist, ObjectDoesNotExist)
    assert issubclass(Book.MultipleObjectsReturned, MultipleObjectsReturned)
