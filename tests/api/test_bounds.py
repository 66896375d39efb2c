"""Input bounds from each column's type (fastmango/api/bounds.py), for filters, search, bodies, path keys and
cursors, and what the OpenAPI document says of them: a value the database cannot hold is a 4xx naming the
parameter or field, on SQLite and on PostgreSQL (where int32 overflow and NUL in text are driver errors)."""

from __future__ import annotations

import base64
import re

import httpx
import pytest
from fastapi import APIRouter

from fastmango.api.bounds import key_adapter, value_adapter
from fastmango.api.filters import FilterSpec
from fastmango.api.pagination import decode_cursor
from fastmango.core.errors import ProblemError
from tests.api.conftest import build_app, seed, token
from tests.auth.conftest import database_url, make_settings, started  # noqa: F401  (fixture)
from tests.db.models import Book, Tag

INT32_MAX = 2**31 - 1


def problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return dict(response.json())


@pytest.mark.parametrize(
    ("query", "parameter", "fragment"),
    [
        ("author_id=2147483648", "author_id", "out of range"),
        ("author_id=-2147483649", "author_id", "out of range"),
        ("pages__in=1,2147483648", "pages__in", "out of range"),
        ("pages__range=1,99999999999999", "pages__range", "out of range"),
        ("pages__gte=99999999999999999999999", "pages__gte", "out of range"),
        ("published__year=2147483648", "published__year", "out of range"),
        ("published__year=99999", "published__year", "9999"),
        ("published__month=13", "published__month", "12"),
        ("published__year__in=2020,2147483648", "published__year__in", "out of range"),
        ("price=99999999999", "price", "digits"),
        ("price=1e400", "price", "digits"),
        ("price=1.999", "price", "decimal places"),
        ("title=a%00b", "title", "NUL"),
        ("author__name__icontains=a%00b", "author__name__icontains", "NUL"),
        ("title__in=a,b%00", "title__in", "NUL"),
        ("title__=x", "title__", "Unknown lookup ''"),
        ("title____icontains=x", "title____icontains", "Unknown lookup ''"),
        ("pages__in=" + ",".join(["1"] * 1001), "pages__in", "at most 1000 values"),
    ],
)
async def test_a_filter_value_its_column_cannot_hold_is_a_400_naming_the_parameter(
    client: httpx.AsyncClient, query: str, parameter: str, fragment: str
) -> None:
    headers = await token(client, "reader", "book.view")
    body = problem(await client.get(f"/books?{query}", headers=headers), 400)
    assert body["parameter"] == parameter
    assert fragment in str(body["detail"])


async def test_filters_at_the_bounds_are_answered(client: httpx.AsyncClient) -> None:
    await seed()
    headers = await token(client, "reader", "book.view")
    for query in (f"author_id={INT32_MAX}", f"pages__in=50,{-(2**31)}", "published__year=9999", "price=999999.99"):
        response = await client.get(f"/books?{query}", headers=headers)
        assert response.status_code == 200, (query, response.text)
    assert (await client.get("/books?pages__range=1,2147483647", headers=headers)).json()["total"] == 4


async def test_search_refuses_nul_and_terms_longer_than_the_setting(database_url: str) -> None:  # noqa: F811
    app = build_app(database_url)
    app.settings.api_max_search_length = 5
    async with started(app) as client:
        headers = await token(client, "reader", "book.view")
        body = problem(await client.get("/books?search=abcdef", headers=headers), 400)
        assert body["parameter"] == "search" and "at most 5" in str(body["detail"])
        body = problem(await client.get("/books", params={"search": "a\x00b"}, headers=headers), 400)
        assert body["parameter"] == "search" and "NUL" in str(body["detail"])
        assert (await client.get("/books?search=abcde", headers=headers)).status_code == 200
        [search] = [p for p in app.openapi()["paths"]["/books"]["get"]["parameters"] if p["name"] == "search"]
        assert search["schema"]["maxLength"] == 5
        assert "x-fastmango-max-length-setting" not in search["schema"]


async def test_the_search_cap_defaults_to_200_characters(client: httpx.AsyncClient) -> None:
    headers = await token(client, "reader", "book.view")
    assert (await client.get(f"/books?search={'x' * 200}", headers=headers)).status_code == 200
    body = problem(await client.get(f"/books?search={'x' * 60_000}", headers=headers), 400)
    assert body["parameter"] == "search" and "at most 200" in str(body["detail"])


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"name": "a\\u0000b"}', "name"),
        ('{"name": "\\ud800"}', "name"),
        ('{"name": "ok", "email": "\\udfff"}', "email"),
    ],
)
async def test_a_body_string_with_nul_or_a_lone_surrogate_is_a_422_naming_the_field(
    client: httpx.AsyncClient, raw: str, field: str
) -> None:
    headers = {"content-type": "application/json"}
    body = problem(await client.post("/authors", content=raw, headers=headers), 422)
    assert body["errors"][0]["loc"] == ["body", field]  # type: ignore[index]
    created = await client.post("/authors", json={"name": "Ada"})
    patch = await client.patch(f"/authors/{created.json()['id']}", content=raw, headers=headers)
    assert problem(patch, 422)["errors"][0]["loc"] == ["body", field]  # type: ignore[index]


async def test_a_body_integer_beyond_int32_is_a_422_naming_the_field(client: httpx.AsyncClient) -> None:
    headers = await token(client, "writer", "book.add")
    body = {"title": "Big", "pages": 2**31, "author_id": 1}
    assert problem(await client.post("/books", json=body, headers=headers), 422)["errors"][0]["loc"] == [  # type: ignore[index]
        "body",
        "pages",
    ]


@pytest.mark.parametrize(
    ("field", "value"), [("pages", "3"), ("pages", 3.5), ("author_id", True), ("author_id", "1"), ("published", 0)]
)
async def test_a_body_value_of_another_json_type_is_a_422_naming_the_field(
    client: httpx.AsyncClient, field: str, value: object
) -> None:
    headers = await token(client, "writer", "book.add")
    body = {"title": "Typed", "author_id": 1, field: value}
    assert problem(await client.post("/books", json=body, headers=headers), 422)["errors"][0]["loc"] == [  # type: ignore[index]
        "body",
        field,
    ]
    # JSON Schema's integer is a value, not a spelling: 2.0 is one (schemathesis sent author_id -42777721.0).
    created = await client.post("/books", json={"title": "Typed", "author_id": 1.0, "pages": 2.0}, headers=headers)
    assert created.status_code == 409, created.text  # past validation; there is no author 1 here


async def test_a_path_key_beyond_int32_is_a_422_and_one_of_a_thousand_digits_a_404(client: httpx.AsyncClient) -> None:
    headers = await token(client, "reader", "book.view", "book.change", "book.delete")
    for method in ("GET", "DELETE"):
        body = problem(await client.request(method, "/books/2147483648", headers=headers), 422)
        assert body["errors"][0]["loc"] == ["path", "pk"]  # type: ignore[index]
    response = await client.patch("/books/2147483648", json={}, headers=headers)
    assert problem(response, 422)["errors"][0]["loc"] == ["path", "pk"]  # type: ignore[index]
    problem(await client.get(f"/books/{'9' * 1000}", headers=headers), 404)


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_of('{"after":' * 1000 + "1" + "}" * 1000),  # nested 1,000 deep: a RecursionError once
        cursor_of("[" * 5000 + "]" * 5000),
        cursor_of('{"after": 2147483648}'),  # beyond the INTEGER key: a driver error on PostgreSQL once
        cursor_of('{"after": "1"}'),
        cursor_of('{"after": true}'),
        cursor_of('{"after": 1.5}'),
        cursor_of("[1]"),
        "garbage!",
        "",
    ],
)
async def test_a_malformed_or_out_of_range_cursor_is_a_400(client: httpx.AsyncClient, cursor: str) -> None:
    body = problem(await client.get("/tags", params={"cursor": cursor}), 400)
    assert body["parameter"] == "cursor"


async def test_a_cursor_of_a_previous_page_still_works(client: httpx.AsyncClient) -> None:
    for name in ("a", "b", "c"):
        await client.post("/tags", json={"name": name})
    first = (await client.get("/tags")).json()
    second = (await client.get("/tags", params={"cursor": first["next"]})).json()
    assert [tag["name"] for tag in first["items"] + second["items"]] == ["a", "b", "c"]


def test_cursor_keys_are_checked_with_the_key_columns_bounds() -> None:
    adapter = key_adapter(Tag)
    assert decode_cursor(cursor_of('{"after": 2147483647}'), adapter) == INT32_MAX
    with pytest.raises(ProblemError):
        decode_cursor(cursor_of('{"after": -2147483649}'), adapter)
    with pytest.raises(ProblemError):
        decode_cursor("A" * 2000, adapter)


async def test_parameters_of_the_other_pagination_mode_are_a_400_not_ignored(client: httpx.AsyncClient) -> None:
    headers = await token(client, "reader", "book.view")
    for query, parameter in (("offset=1", "offset"), ("ordering=name", "ordering"), ("offset=0&limit=1", "offset")):
        assert problem(await client.get(f"/tags?{query}"), 400)["parameter"] == parameter
    assert problem(await client.get("/books?cursor=abc", headers=headers), 400)["parameter"] == "cursor"
    assert problem(await client.get("/books?cursor=", headers=headers), 400)["parameter"] == "cursor"


async def test_an_empty_ordering_is_the_default_and_the_published_pattern_allows_it(
    app: object, client: httpx.AsyncClient
) -> None:
    await seed()
    headers = await token(client, "reader", "book.view")
    default = (await client.get("/books", headers=headers)).json()["items"]
    assert (await client.get("/books?ordering=", headers=headers)).json()["items"] == default
    [ordering] = [p for p in app.openapi()["paths"]["/books"]["get"]["parameters"] if p["name"] == "ordering"]  # type: ignore[attr-defined]
    pattern = ordering["schema"]["pattern"]
    for value in ("", "title", "-published,title"):
        assert re.search(pattern, value), value
    for value in ("title,,pages", " title", "title,"):
        assert not re.search(pattern, value), value
        body = problem(await client.get("/books", params={"ordering": value}, headers=headers), 400)
        assert body["parameter"] == "ordering"


async def test_a_405_allows_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    response = await client.put("/publishers")
    problem(response, 405)
    assert response.headers["allow"] == "GET, POST"
    response = await client.post("/books/1")
    problem(response, 405)
    assert response.headers["allow"] == "GET, PUT, PATCH, DELETE"


async def test_put_on_a_get_only_path_beside_a_crud_key_path_is_a_405_before_authentication(
    database_url: str,  # noqa: F811
) -> None:
    app = build_app(database_url)
    latest = APIRouter()

    @latest.get("/books/latest")
    async def latest_books() -> list[str]:
        return []

    app.include_router(latest)
    async with started(app) as client:
        assert (await client.get("/books/latest")).status_code == 200
        for method in ("PUT", "PATCH", "DELETE"):
            response = await client.request(method, "/books/latest")  # anonymous: no 401 first
            problem(response, 405)
            assert response.headers["allow"] == "GET"


async def test_openapi_publishes_the_bounds_of_filters_bodies_and_keys(app: object) -> None:
    document = app.openapi()  # type: ignore[attr-defined]
    parameters = {p["name"]: p["schema"] for p in document["paths"]["/books"]["get"]["parameters"]}
    assert parameters["author_id"] == {"type": "integer", "minimum": -(2**31), "maximum": INT32_MAX}
    assert parameters["title"]["pattern"] == "^[^\\x00]*$"
    assert parameters["price"]["pattern"] == r"^-?\d{1,6}(\.\d{1,2})?$"
    assert parameters["search"]["maxLength"] == 200
    [key] = document["paths"]["/books/{pk}"]["get"]["parameters"]
    assert (key["schema"]["minimum"], key["schema"]["maximum"]) == (-(2**31), INT32_MAX)
    schemas = document["components"]["schemas"]
    assert schemas["BookCreate"]["properties"]["pages"]["maximum"] == INT32_MAX
    assert schemas["BookCreate"]["properties"]["title"]["pattern"] == "^[^\\x00]*$"


def test_a_filter_spec_checks_values_against_the_same_bounds_as_bodies() -> None:
    spec = FilterSpec(Book, filter_fields=["pages", "title"])
    assert spec.parse_value("pages__in", f"1,{INT32_MAX}") == [1, INT32_MAX]
    assert value_adapter(Book, "pages").json_schema()["maximum"] == INT32_MAX
    with pytest.raises(ProblemError, match="out of range"):
        spec.parse_value("pages", str(INT32_MAX + 1))
