"""fastmango.core.declarations: a declaration error raises when made, and is collected (each once) by the check."""

from __future__ import annotations

import pytest

from fastmango.core.declarations import DeclarationError, collecting, did_you_mean, report, use_instead
from fastmango.core.errors import ImproperlyConfigured


def error(message: str = "filter_fields of Note: 'txet'") -> DeclarationError:
    return DeclarationError(message, id="fastmango.E201", hint="use 'text' instead of 'txet'", obj="Note")


def test_a_reported_error_is_raised_outside_a_check() -> None:
    with pytest.raises(ImproperlyConfigured, match="filter_fields of Note: 'txet'") as caught:
        report(error())
    assert (caught.value.id, caught.value.hint, caught.value.obj) == (  # type: ignore[attr-defined]
        "fastmango.E201",
        "use 'text' instead of 'txet'",
        "Note",
    )


def test_errors_reported_while_collecting_are_recorded_once_each_and_not_raised() -> None:
    with collecting() as found:
        report(error())
        report(error())
        report(error("search_fields of Note: 'titel'"))
    assert [str(e) for e in found] == ["filter_fields of Note: 'txet'", "search_fields of Note: 'titel'"]
    with pytest.raises(DeclarationError):  # collecting ends with the block
        report(error())


def test_the_hint_names_the_close_match_else_the_valid_names() -> None:
    assert did_you_mean("publishd", ["published", "text"]) == " (did you mean 'published'?)"
    assert did_you_mean("zzz", ["published", "text"]) == ""
    assert use_instead("publishd", ["text", "published"], "field") == "use 'published' instead of 'publishd'"
    assert use_instead("zzz", ["text", "id"], "field of Note") == "'zzz' is no field of Note; use one of: id, text"
    assert use_instead("autor", [], "relation of Note") == "leave 'autor' out: there is no relation of Note"
