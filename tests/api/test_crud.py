from __future__ import annotations

import httpx
import pytest

from fastmango.testing import capture_queries
from tests.api.conftest import seed, token
from tests.db.models import Book


def problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return dict(response.json())


async def test_list_nests_the_author_and_pages_with_a_total(client: httpx.AsyncClient) -> None:
    await seed()
    headers = await token(client, "reader", "book.view")
    with capture_queries() as queries:
        response = await client.get("/books?limit=2&ordering=title", headers=headers)
    body = response.json()
    assert response.status_code == 200
    assert (body["total"], body["limit"], body["offset"]) == (4, 2, 0)
    assert [item["title"] for item in body["items"]] == ["Notes", "The Hobbit"]
    assert body["items"][0]["author"] == {"id": 1, "name": "Ada Lovelace", "email": None, "publisher_id": None}
    assert body["items"][0]["price"] == "9.50"
    assert body["items"][0]["published"] == "1843-09-01"
    data_queries = [q for q in queries if "auth_" not in q]
    assert len(data_queries) == 2  # count + one joined page
    second = (await client.get("/books?limit=2&offset=2&ordering=title", headers=headers)).json()
    assert [item["title"] for item in second["items"]] == ["The Silmarillion", "Unpublished"]


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("author__name__icontains=tolk", ["The Hobbit", "The Silmarillion", "Unpublished"]),
        ("published__gte=1900-01-01", ["The Hobbit", "The Silmarillion"]),
        ("published__year=1937", ["The Hobbit"]),
        ("id__in=1,3", ["Notes", "The Silmarillion"]),
        ("pages__range=100,400", ["The Hobbit", "The Silmarillion"]),
        ("published__isnull=true", ["Unpublished"]),
        ("title=Notes", ["Notes"]),
        ("title__startswith=The", ["The Hobbit", "The Silmarillion"]),
        ("price__lt=10", ["Notes", "Unpublished"]),
        ("search=hob", ["The Hobbit"]),
        ("search=the&pages__gt=320", ["The Silmarillion"]),
    ],
)
async def test_list_filters(client: httpx.AsyncClient, query: str, titles: list[str]) -> None:
    await seed()
    headers = await token(client, "reader", "book.view")
    response = await client.get(f"/books?{query}&ordering=title", headers=headers)
    assert response.status_code == 200, response.text
    assert [item["title"] for item in response.json()["items"]] == titles


async def test_ordering_descending_and_default_by_pk(client: httpx.AsyncClient) -> None:
    await seed()
    headers = await token(client, "reader", "book.view")
    by_pages = (await client.get("/books?ordering=-pages", headers=headers)).json()["items"]
    assert [item["pages"] for item in by_pages] == [365, 310, 50, 10]
    default = (await client.get("/books", headers=headers)).json()["items"]
    assert [item["id"] for item in default] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("query", "parameter", "fragment"),
    [
        ("email=x", "email", "Unknown filter 'email'"),
        ("title__regex=x", "title__regex", "Unknown lookup 'regex'"),
        ("pages=many", "pages", "pages='many' is not a valid int"),
        ("published__gte=yesterday", "published__gte", "is not a date"),
        ("title__year=2020", "title__year", "applies to dates"),
        ("pages__range=1", "pages__range", "two comma-separated values"),
        ("ordering=author_id", "ordering", "Cannot order by 'author_id'"),
        ("pages=99999999999999999999999", "pages", "out of range"),
    ],
)
async def test_bad_filters_are_400_naming_the_parameter(
    client: httpx.AsyncClient, query: str, parameter: str, fragment: str
) -> None:
    headers = await token(client, "reader", "book.view")
    body = problem(await client.get(f"/books?{query}", headers=headers), 400)
    assert body["parameter"] == parameter
    assert fragment in str(body["detail"])


async def test_limit_above_the_maximum_is_422(client: httpx.AsyncClient) -> None:
    headers = await token(client, "reader", "book.view")
    body = problem(await client.get("/books?limit=51", headers=headers), 422)
    assert body["errors"][0]["field"] == "limit"  # type: ignore[index]


async def test_get_one_and_404(client: httpx.AsyncClient) -> None:
    await seed()
    headers = await token(client, "reader", "book.view")
    book = (await client.get("/books/2", headers=headers)).json()
    assert book["title"] == "The Hobbit"
    assert book["author"]["name"] == "J. R. R. Tolkien"
    assert "Book 99 does not exist" in str(problem(await client.get("/books/99", headers=headers), 404)["detail"])
    # An integer key's path matches integers only: /books/not-a-number is no row's URL (and PUT /books/latest
    # can be a 405 of a route /books/latest, not a 422 of /books/{pk}).
    problem(await client.get("/books/not-a-number", headers=headers), 404)
    problem(await client.get(f"/books/{2**40}", headers=headers), 422)


async def test_create_returns_201_with_location_and_the_nested_read(client: httpx.AsyncClient) -> None:
    people = await seed()
    headers = await token(client, "writer", "book.add")
    response = await client.post(
        "/books", json={"title": "Dune", "pages": 412, "author_id": people["ada"].id}, headers=headers
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/books/{created['id']}"
    assert created["author"]["name"] == "Ada Lovelace"
    assert created["price"] == "0.00" or created["price"] == "0"
    assert await Book.objects.filter(title="Dune").exists()


async def test_create_validation_and_integrity_errors(client: httpx.AsyncClient) -> None:
    people = await seed()
    headers = await token(client, "writer", "book.add")
    missing = problem(await client.post("/books", json={"pages": 1}, headers=headers), 422)
    assert {error["field"] for error in missing["errors"]} == {"title", "author_id"}  # type: ignore[attr-defined]
    unknown = problem(
        await client.post("/books", json={"title": "x", "author_id": 1, "color": "red"}, headers=headers), 422
    )
    assert unknown["errors"][0]["field"] == "color"  # type: ignore[index]
    duplicate = problem(
        await client.post("/books", json={"title": "Notes", "author_id": people["ada"].id}, headers=headers), 409
    )
    assert duplicate["constraint_kind"] == "unique"
    orphan = problem(await client.post("/books", json={"title": "Orphan", "author_id": 999}, headers=headers), 409)
    assert orphan["constraint_kind"] == "foreign_key"


async def test_patch_updates_only_what_is_sent_and_put_replaces(client: httpx.AsyncClient) -> None:
    people = await seed()
    headers = await token(client, "editor", "book.change")
    patched = await client.patch("/books/2", json={"pages": 320}, headers=headers)
    assert patched.status_code == 200, patched.text
    assert (patched.json()["pages"], patched.json()["title"]) == (320, "The Hobbit")
    replaced = await client.put(
        "/books/2", json={"title": "There and Back Again", "author_id": people["ada"].id}, headers=headers
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["pages"] == 0  # PUT resets what is not sent to its default
    assert replaced.json()["author"]["name"] == "Ada Lovelace"
    problem(await client.patch("/books/99", json={"pages": 1}, headers=headers), 404)
    problem(await client.patch("/books/2", json={"title": None}, headers=headers), 422)


async def test_delete_is_204_then_404(client: httpx.AsyncClient) -> None:
    await seed()
    headers = await token(client, "remover", "book.delete")
    response = await client.delete("/books/1", headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    problem(await client.delete("/books/1", headers=headers), 404)
    assert await Book.objects.count() == 3


async def test_deleting_a_referenced_row_is_a_conflict(client: httpx.AsyncClient) -> None:
    await seed()
    body = problem(await client.delete("/authors/1"), 409)
    assert body["constraint_kind"] == "foreign_key"


async def test_conflicts_say_once_which_constraint_refused_and_how_to_fix_it(
    client: httpx.AsyncClient, database_url: str
) -> None:
    people = await seed()
    postgres = not database_url.startswith("sqlite")
    headers = await token(client, "writer", "book.add")
    # SQLite names no foreign key: the table and column come from the models and the statement.
    foreign_key = "book_author_id_fkey" if postgres else "book.author_id"
    described = foreign_key if postgres else "book.author_id -> author.id"

    orphan = problem(await client.post("/books", json={"title": "Orphan", "author_id": 999}, headers=headers), 409)
    assert (orphan["constraint"], orphan["constraint_kind"]) == (foreign_key, "foreign_key")
    assert (orphan["table"], orphan["columns"]) == ("book", ["author_id"])
    assert orphan["detail"] == (
        f"book.author_id refers to a row of author that does not exist (foreign key {described}). "
        "Send an existing author.id."
    )

    referenced = problem(await client.delete("/authors/1"), 409)
    assert (referenced["constraint"], referenced["columns"]) == (foreign_key, ["author_id"])
    assert referenced["detail"] == (
        f"The author row is still referenced by book.author_id (foreign key {described}). "
        "Delete those book rows, or point them at another row, first."
    )

    duplicate = problem(
        await client.post("/books", json={"title": "Notes", "author_id": people["ada"].id}, headers=headers), 409
    )
    assert (duplicate["constraint"], duplicate["constraint_kind"]) == ("uq_book_author_title", "unique")
    assert (duplicate["table"], duplicate["columns"]) == ("book", ["author_id", "title"])
    assert duplicate["detail"] == (
        "Another book row already has this author_id and title (unique constraint uq_book_author_title). "
        "Send other values of author_id and title, or change the existing row."
    )

    await client.post("/authors", json={"name": "Ann", "email": "ann@example.com"})
    same_email = problem(await client.post("/authors", json={"name": "Bob", "email": "ann@example.com"}), 409)
    unnamed = "author_email_key" if postgres else "author.email"  # SQLite: the columns of an unnamed constraint
    assert (same_email["constraint"], same_email["columns"]) == (unnamed, ["email"])
    assert same_email["detail"] == (
        f"Another author row already has this email (unique constraint {'' if postgres else 'on '}{unnamed}). "
        "Send another email, or change the existing row."
    )
    assert "ann@example.com" not in str(same_email)  # the values are the caller's; the body names columns only


async def test_permissions_true_is_401_anonymous_and_403_without_the_permission(client: httpx.AsyncClient) -> None:
    await seed()
    problem(await client.get("/books"), 401)
    headers = await token(client, "viewer", "book.view")
    assert (await client.get("/books", headers=headers)).status_code == 200
    denied = problem(await client.post("/books", json={"title": "x", "author_id": 1}, headers=headers), 403)
    assert denied["permission"] == "book.add"
    assert problem(await client.delete("/books/1", headers=headers), 403)["permission"] == "book.delete"
    root = await token(client, "root", superuser=True)
    assert (await client.delete("/books/1", headers=root)).status_code == 204


async def test_permissions_writes_keeps_reads_open(client: httpx.AsyncClient) -> None:
    assert (await client.get("/publishers")).status_code == 200
    problem(await client.post("/publishers", json={"name": "Allen & Unwin"}), 401)
    headers = await token(client, "pub", "publisher.add")
    assert (await client.post("/publishers", json={"name": "Allen & Unwin"}, headers=headers)).status_code == 201
    assert (await client.get("/publishers/1")).status_code in (404, 405)  # not among the actions


async def test_cursor_pagination_walks_every_row_once(client: httpx.AsyncClient) -> None:
    for name in ("a", "b", "c", "d", "e"):
        await client.post("/tags", json={"name": name})
    seen, cursor, pages = [], None, 0
    while True:
        url = "/tags" + (f"?cursor={cursor}" if cursor else "")
        body = (await client.get(url)).json()
        seen += [item["name"] for item in body["items"]]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == ["a", "b", "c", "d", "e"]
    assert pages == 3
    assert problem(await client.get("/tags?cursor=garbage!"), 400)["parameter"] == "cursor"


async def test_openapi_has_stable_operation_ids_tags_and_problem_errors(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    operations = {
        op["operationId"]: (path, method, op) for path, item in schema["paths"].items() for method, op in item.items()
    }
    for action in ("list", "get", "create", "update", "replace", "delete"):
        _, _, operation = operations[f"book_{action}"]
        assert operation["tags"] == ["book"]
        assert "401" in operation["responses"] and "403" in operation["responses"]
        assert "application/problem+json" in operation["responses"]["422"]["content"]
    assert operations["book_get"][0] == "/books/{pk}"
    list_parameters = {p["name"] for p in operations["book_list"][2]["parameters"]}
    assert {"limit", "offset", "ordering", "search", "title", "author__name"} <= list_parameters
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    read = schema["components"]["schemas"]["BookRead"]
    assert "author" in read["properties"]
    user_schemas = [
        name for name in schema["components"]["schemas"] if "hashed" in str(schema["components"]["schemas"][name])
    ]
    assert user_schemas == []
