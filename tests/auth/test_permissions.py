"""Model permission names (fastmango/auth/permissions.py): built in one place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import fastmango
from fastmango.auth import PERMISSION_OF, codename, permission_codenames
from tests.db.models import Book

#: f"{table}.{action}": a codename formatted by hand.
#: Modules being rewritten to call codename() (issue 15's ModelResource): remove each as it lands.
PENDING: set[str] = set()
HAND_BUILT = re.compile(
    r"""f["']\{[^}"']*(table|model)[^}"']*\}\.\{[^}"']*(action|PERMISSION_OF|permission)[^}"']*\}"""
)


def test_a_codename_names_the_table_and_the_permission_action() -> None:
    assert codename(Book, "view") == "book.view"
    assert codename("book", "delete") == "book.delete"


@pytest.mark.parametrize(
    ("action", "permission"),
    [("list", "view"), ("get", "view"), ("create", "add"), ("update", "change"), ("replace", "change")],
)
def test_crud_actions_map_to_their_model_permission(action: str, permission: str) -> None:
    assert codename(Book, action) == f"book.{permission}"
    assert PERMISSION_OF[action] == permission


def test_an_unknown_action_is_an_error_listing_the_actions() -> None:
    with pytest.raises(ValueError, match="unknown permission action 'publish'; actions: view, add, change, delete"):
        codename(Book, "publish")


def test_a_model_has_four_permissions() -> None:
    assert permission_codenames(Book) == ["book.view", "book.add", "book.change", "book.delete"]


def test_the_codename_is_built_in_one_place() -> None:
    package = Path(fastmango.__file__).parent
    building = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if any(HAND_BUILT.search(line) and "``" not in line for line in path.read_text().splitlines())
    )
    assert set(building) - PENDING == {"auth/permissions.py"}
