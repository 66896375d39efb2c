from __future__ import annotations

import pytest
from pydantic import ValidationError

from fastmango.api import FilterSpec, schema_for
from fastmango.api.filters import BadQueryParameter
from fastmango.api.schemas import Mode
from fastmango.auth import User
from fastmango.db import Field, FieldError, Model
from tests.db.models import Author, Book


def test_read_schema_has_every_column_required_and_nests_relations() -> None:
    read = schema_for(Book, "read", relations=("author",))
    assert set(read.model_fields) == {"id", "title", "pages", "price", "published", "author_id", "author"}
    assert all(field.is_required() for field in read.model_fields.values())
    assert read.model_fields["author"].annotation is schema_for(Author, "read")


def test_read_schema_never_contains_write_only_fields() -> None:
    assert "hashed_password" not in schema_for(User, "read").model_fields
    assert "hashed_password" not in str(schema_for(User, "read").model_json_schema())


def test_create_schema_omits_the_primary_key_keeps_defaults_and_refuses_unknown_fields() -> None:
    create = schema_for(Book, "create")
    assert "id" not in create.model_fields
    assert create.model_fields["pages"].default == 0
    assert create.model_fields["title"].is_required()
    with pytest.raises(ValidationError, match="color"):
        create(title="x", author_id=1, color="red")


def test_update_schema_makes_everything_optional() -> None:
    update = schema_for(Book, "update")
    assert not any(field.is_required() for field in update.model_fields.values())
    assert update(pages=3).model_dump(exclude_unset=True) == {"pages": 3}
    with pytest.raises(ValidationError):
        update(title=None)


def test_integer_columns_carry_their_sql_bounds() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 2147483647"):
        schema_for(Book, "create")(title="x", author_id=1, pages=2**31)


def test_include_exclude_and_unknown_names() -> None:
    assert set(schema_for(Book, "read", include=["id", "title"]).model_fields) == {"id", "title"}
    assert "price" not in schema_for(Book, "read", exclude=["price"]).model_fields
    with pytest.raises(FieldError, match="colour"):
        schema_for(Book, "read", include=["colour"])


def test_schemas_are_cached() -> None:
    assert schema_for(Book, "update") is schema_for(Book, "update")


def test_filter_spec_is_checked_when_created() -> None:
    with pytest.raises(Exception, match="nope"):
        FilterSpec(Book, filter_fields=["nope"])


def test_filter_spec_parses_typed_values_for_hand_written_routes() -> None:
    spec = FilterSpec(Book, filter_fields=["pages", "published", "author__name"], ordering_fields=["pages"])
    assert spec.parse_value("pages__in", "1, 2,3") == [1, 2, 3]
    assert str(spec.parse_value("published__gte", "2020-01-02")) == "2020-01-02"
    assert spec.parse_value("published__year", "2020") == 2020
    assert spec.parse_value("author__name__icontains", "tol") == "tol"
    assert spec.parse_ordering("-pages") == ("-pages", "id")
    with pytest.raises(BadQueryParameter):
        spec.parse_value("title", "x")


class ApiSample(Model, table=True):
    __tablename__ = "fm_api_sample"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(description="Shown as is.", schema_extra={"examples": ["Ada"]})


@pytest.mark.parametrize("mode", ["read", "create", "update"])
def test_schemas_keep_the_description_and_examples_of_each_field(mode: Mode) -> None:
    """The examples reach the OpenAPI document, where schemathesis' examples phase sends them."""
    name = schema_for(ApiSample, mode).model_json_schema()["properties"]["name"]
    assert name["description"] == "Shown as is." and name["examples"] == ["Ada"]
