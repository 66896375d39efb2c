"""The admin API (fastmango/admin/routes.py): staff only, each user's schema, rows through the resource."""

from __future__ import annotations

import csv
import io

import httpx

from fastmango.api.history import LogEntry
from tests.admin.conftest import headers_for, seed
from tests.db.models import Author, Book, BookTag

API = "/admin/api"


async def test_anonymous_is_401_and_non_staff_403_as_problems(client: httpx.AsyncClient) -> None:
    anonymous = await client.get(f"{API}/site")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    reader = await headers_for(client, "reader", "book.view", staff=False)
    refused = await client.get(f"{API}/site", headers=reader)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"{API}/models/book", headers=reader)).status_code == 403


async def test_the_schema_shows_each_user_only_what_they_may_do(client: httpx.AsyncClient) -> None:
    editor = await headers_for(client, "editor", "book.view", "book.add", "book.change")
    site = (await client.get(f"{API}/site", headers=editor)).json()
    assert site["user"] == {"id": 1, "username": "editor", "is_superuser": False}
    names = [model["name"] for model in site["models"]]
    assert "book" in names and "auth_user" not in names and "author" not in names
    book = next(model for model in site["models"] if model["name"] == "book")
    assert book["permissions"] == {"view": True, "add": True, "change": True, "delete": False}
    assert [a["name"] for a in book["actions"]] == ["lengthen"]  # no delete without book.delete
    fields = {field["name"]: field for field in book["fields"]}
    assert fields["author_id"]["type"] == "fk" and fields["author_id"]["related"] == "author"
    assert fields["tags"]["type"] == "m2m" and fields["tags"]["related"] == "tag"
    assert fields["id"]["readonly"] and fields["title"]["required"] and fields["price"]["type"] == "number"
    assert fields["published"]["type"] == "date" and fields["published"]["nullable"]

    deleter = await headers_for(client, "deleter", "book.view", "book.delete")
    book = next(m for m in (await client.get(f"{API}/site", headers=deleter)).json()["models"] if m["name"] == "book")
    assert book["permissions"]["delete"] and not book["permissions"]["change"]
    assert [a["name"] for a in book["actions"]] == ["delete"]


async def test_users_are_registered_without_their_password_hash(client: httpx.AsyncClient) -> None:
    root = await headers_for(client, "root", superuser=True)
    site = (await client.get(f"{API}/site", headers=root)).json()
    users = next(model for model in site["models"] if model["name"] == "auth_user")
    names = [field["name"] for field in users["fields"]]
    assert "hashed_password" not in names and {"groups", "user_permissions"} <= set(names)
    row = (await client.get(f"{API}/models/auth_user/1", headers=root)).json()
    assert "hashed_password" not in row and row["groups"] == []


async def test_a_row_the_resource_hides_is_a_404_in_the_admin(client: httpx.AsyncClient) -> None:
    data = await seed()
    secret = data["books"][3].id
    staff = await headers_for(client, "staff", "book.view", "book.change", "book.delete")
    for method in ("GET", "DELETE"):
        assert (await client.request(method, f"{API}/models/book/{secret}", headers=staff)).status_code == 404
    patched = await client.patch(f"{API}/models/book/{secret}", json={"pages": 1}, headers=staff)
    assert patched.status_code == 404
    assert (await client.get(f"{API}/models/book/{secret}/history", headers=staff)).status_code == 404
    listed = (await client.get(f"{API}/models/book?limit=50", headers=staff)).json()
    assert "Secret diary" not in [row["title"] for row in listed["items"]]
    assert listed["total"] == 3 and not listed["total_is_estimate"]
    assert (await Book.objects.get(pk=secret)).pages == 10


async def test_list_pages_with_cursors_in_any_order_both_ways(client: httpx.AsyncClient) -> None:
    author = await Author.objects.create(name="Many")
    await Book.objects.bulk_create([Book(title=f"B{i:02}", pages=i % 3, author_id=author.id) for i in range(7)])
    staff = await headers_for(client, "staff", "book.view")
    seen, cursor, pages = [], None, []
    while True:
        query = "ordering=-pages&limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(f"{API}/models/book?{query}", headers=staff)).json()
        pages.append(page)
        seen += [row["id"] for row in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert len(seen) == 7 == len(set(seen))
    pages_of = {row["id"]: row["pages"] for page in pages for row in page["items"]}
    assert [pages_of[i] for i in seen] == sorted(pages_of.values(), reverse=True)
    back = await client.get(f"{API}/models/book?ordering=-pages&limit=3&cursor={pages[1]['previous']}", headers=staff)
    assert [row["id"] for row in back.json()["items"]] == seen[:3]
    assert pages[0]["previous"] is None and pages[0]["total"] == 7


async def test_list_filters_across_relations_and_searches(client: httpx.AsyncClient) -> None:
    data = await seed()
    await BookTag.objects.create(book_id=data["books"][1].id, tag_id=data["rings"].id)
    staff = await headers_for(client, "staff", "book.view")
    by_name = (await client.get(f"{API}/models/book?author__name=Ada Lovelace", headers=staff)).json()
    assert [row["title"] for row in by_name["items"]] == ["Notes"]
    assert by_name["items"][0]["author"]["_label"] == "Ada Lovelace"
    tagged = (await client.get(f"{API}/models/book?tags__id={data['rings'].id}", headers=staff)).json()
    assert [row["title"] for row in tagged["items"]] == ["The Hobbit"]
    found = (await client.get(f"{API}/models/book?search=silma", headers=staff)).json()
    assert [row["title"] for row in found["items"]] == ["The Silmarillion"]
    bad = await client.get(f"{API}/models/book?nope=1", headers=staff)
    assert bad.status_code == 400 and bad.json()["parameter"] == "nope"


async def test_facets_count_the_callers_rows_and_autocomplete_labels_them(client: httpx.AsyncClient) -> None:
    data = await seed()
    staff = await headers_for(client, "staff", "book.view", "author.view")
    facets = (await client.get(f"{API}/models/book/facets?field=author", headers=staff)).json()
    assert facets["field"] == "author"
    counts = {value["label"]: value["count"] for value in facets["values"]}
    assert counts == {"Ada Lovelace": 1, "J. R. R. Tolkien": 2}  # the secret book is not counted
    found = (await client.get(f"{API}/models/author/autocomplete?q=tolk", headers=staff)).json()
    assert found == {"items": [{"pk": data["tolkien"].id, "label": "J. R. R. Tolkien"}]}
    labelled = (await client.get(f"{API}/models/author/autocomplete?pks={data['ada'].id}", headers=staff)).json()
    assert labelled["items"] == [{"pk": data["ada"].id, "label": "Ada Lovelace"}]
    refused = await client.get(f"{API}/models/tag/autocomplete?q=r", headers=staff)
    assert refused.status_code == 403  # no tag.view


async def test_create_update_and_delete_write_history_as_admin(client: httpx.AsyncClient) -> None:
    data = await seed()
    staff = await headers_for(client, "staff", "book.view", "book.add", "book.change", "book.delete", "tag.view")
    body = {"title": "Unfinished Tales", "pages": 472, "author_id": data["tolkien"].id, "tags": [data["maps"].id]}
    created = await client.post(f"{API}/models/book", json=body, headers=staff)
    assert created.status_code == 201, created.text
    pk = created.json()["id"]
    assert created.json()["tags"] == [data["maps"].id]
    changed = await client.patch(f"{API}/models/book/{pk}", json={"pages": 500, "tags": []}, headers=staff)
    assert changed.status_code == 200 and changed.json()["pages"] == 500 and changed.json()["tags"] == []
    entries = (await client.get(f"{API}/models/book/{pk}/history", headers=staff)).json()["items"]
    assert [(e["action"], e["surface"]) for e in entries] == [("update", "admin"), ("create", "admin")]
    assert entries[0]["changes"] == {"pages": [472, 500], "tags": [[data["maps"].id], []]}
    assert entries[0]["actor"] == {"id": 1, "username": "staff"}
    assert (await client.delete(f"{API}/models/book/{pk}", headers=staff)).status_code == 204
    # Books are scoped: whether staff could have seen the deleted row is no longer known, so only a superuser
    # reads its history (with every column of the deleted row in it).
    assert (await client.get(f"{API}/models/book/{pk}/history", headers=staff)).status_code == 404
    root = await headers_for(client, "root", superuser=True)
    entries = (await client.get(f"{API}/models/book/{pk}/history", headers=root)).json()["items"]
    assert entries[0]["action"] == "delete" and entries[0]["object_repr"] == "Unfinished Tales"


async def test_a_deleted_rows_history_stays_readable_when_the_resource_is_unscoped(client: httpx.AsyncClient) -> None:
    staff = await headers_for(client, "staff", "author.view", "author.add", "author.delete")
    created = await client.post(f"{API}/models/author", json={"name": "Anon"}, headers=staff)
    pk = created.json()["id"]
    assert (await client.delete(f"{API}/models/author/{pk}", headers=staff)).status_code == 204
    entries = (await client.get(f"{API}/models/author/{pk}/history", headers=staff)).json()["items"]
    assert [entry["action"] for entry in entries] == ["delete", "create"]


async def test_field_errors_are_a_422_naming_each_field(client: httpx.AsyncClient) -> None:
    staff = await headers_for(client, "staff", "book.add")
    response = await client.post(f"{API}/models/book", json={"pages": "many", "colour": "red"}, headers=staff)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"colour", "pages", "title", "author_id"} <= fields


async def test_inline_rows_are_saved_with_the_parent_and_roll_back_with_it(client: httpx.AsyncClient) -> None:
    staff = await headers_for(client, "staff", "author.add", "author.change", "author.view", "book.add", "book.view")
    body = {"name": "Le Guin", "book": [{"title": "Earthsea", "pages": 200}, {"title": "Earthsea", "pages": 1}]}
    conflict = await client.post(f"{API}/models/author", json=body, headers=staff)
    assert conflict.status_code == 409, conflict.text  # the second row breaks (author_id, title) uniqueness
    assert not await Author.objects.filter(name="Le Guin").exists()
    assert await Book.objects.count() == 0 and await LogEntry.objects.count() == 0

    invalid = {"name": "Le Guin", "book": [{"title": "Earthsea"}, {"title": "Lathe", "pages": "x"}]}
    refused = await client.post(f"{API}/models/author", json=invalid, headers=staff)
    assert refused.status_code == 422
    assert [error["field"] for error in refused.json()["errors"]] == ["book.1.pages"]
    assert not await Author.objects.filter(name="Le Guin").exists()

    body = {"name": "Le Guin", "book": [{"title": "Earthsea", "pages": 200}, {"title": "Lathe", "pages": 1}]}
    created = await client.post(f"{API}/models/author", json=body, headers=staff)
    assert created.status_code == 201, created.text
    assert [row["title"] for row in created.json()["book"]] == ["Earthsea", "Lathe"]
    author = created.json()["id"]
    first, second = created.json()["book"]
    edit = {"book": [{"id": first["id"], "pages": 250}, {"id": second["id"], "_delete": True}]}
    refused = await client.patch(f"{API}/models/author/{author}", json=edit, headers=staff)
    assert refused.status_code == 403  # no book.change: neither the change nor the deletion is written
    assert [b.pages for b in await Book.objects.order_by("id")] == [200, 1]


async def test_actions_run_on_the_callers_rows_and_record_history(client: httpx.AsyncClient) -> None:
    data = await seed()
    ids = [book.id for book in data["books"]]
    staff = await headers_for(client, "staff", "book.view", "book.change")
    done = await client.post(f"{API}/models/book/actions/lengthen", json={"pks": ids}, headers=staff)
    assert done.status_code == 200, done.text
    assert done.json()["done"] == 3  # the secret book is not the caller's
    assert (await Book.objects.get(pk=ids[3])).pages == 10
    entry = (await client.get(f"{API}/models/book/{ids[0]}/history", headers=staff)).json()["items"][0]
    assert (entry["action"], entry["via"], entry["surface"]) == ("action", "lengthen", "admin")
    refused = await client.post(f"{API}/models/book/actions/delete", json={"pks": ids}, headers=staff)
    assert refused.status_code == 403
    assert (await client.post(f"{API}/models/book/actions/nope", json={"pks": ids}, headers=staff)).status_code == 404


async def test_delete_preview_lists_what_refers_to_the_row(client: httpx.AsyncClient) -> None:
    data = await seed()
    staff = await headers_for(client, "staff", "author.delete", "author.view", "book.view")
    preview = (await client.get(f"{API}/models/author/{data['tolkien'].id}/delete-preview", headers=staff)).json()
    assert preview["object"]["name"] == "J. R. R. Tolkien"
    # Counted as the caller sees books: the secret one is not.
    assert [(c["model"], c["count"]) for c in preview["cascades"]] == [("book", 2)]
    root = await headers_for(client, "root", superuser=True)
    preview = (await client.get(f"{API}/models/author/{data['tolkien'].id}/delete-preview", headers=root)).json()
    assert [(c["model"], c["count"]) for c in preview["cascades"]] == [("book", 3)]


async def test_csv_export_has_the_filtered_rows(client: httpx.AsyncClient) -> None:
    await seed()
    staff = await headers_for(client, "staff", "book.view")
    response = await client.get(f"{API}/models/book/export.csv?author__name=J. R. R. Tolkien", headers=staff)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [
        ["id", "title", "pages", "author"],
        ["2", "The Hobbit", "310", "J. R. R. Tolkien"],
        ["3", "The Silmarillion", "365", "J. R. R. Tolkien"],
    ]


async def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_quoted(client: httpx.AsyncClient) -> None:
    data = await seed()
    staff = await headers_for(client, "staff", "book.view")
    formula = '=HYPERLINK("http://evil.example","x")'
    await Book.objects.create(title=formula, pages=1, price=1, author_id=data["ada"].id)
    await Book.objects.create(title="@SUM(A1)", pages=2, price=1, author_id=data["ada"].id)
    response = await client.get(f"{API}/models/book/export.csv?author__name=Ada Lovelace", headers=staff)
    titles = {row[1] for row in csv.reader(io.StringIO(response.text))}
    assert {"'" + formula, "'@SUM(A1)", "Notes"} <= titles
    assert formula not in titles


async def test_set_password_hashes_it_and_masks_it_in_the_history(client: httpx.AsyncClient) -> None:
    root = await headers_for(client, "root", superuser=True)
    await headers_for(client, "other")
    response = await client.post(f"{API}/models/auth_user/2/password", json={"password": "a new secret"}, headers=root)
    assert response.status_code == 204, response.text
    login = await client.post("/auth/token", data={"username": "other", "password": "a new secret"})
    assert login.status_code == 200
    entries = (await client.get(f"{API}/models/auth_user/2/history", headers=root)).json()["items"]
    assert entries[0]["changes"] == {"hashed_password": ["********", "********"]}
    short = await client.post(f"{API}/models/auth_user/2/password", json={"password": "x"}, headers=root)
    assert short.status_code == 422
