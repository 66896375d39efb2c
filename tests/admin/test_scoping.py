"""Row scoping across the admin's secondary reads and writes: many-to-many links, facet labels, delete previews.

A book titled "Secret ..." is hidden from everyone but superusers (tests/admin/conftest.py); no surface may show
its key or label, link or unlink it for someone who cannot see it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.admin.conftest import headers_for, seed
from tests.db.models import Book, BookTag

API = "/admin/api"


def _secret(s: dict[str, Any]) -> Book:
    return next(book for book in s["books"] if book.title.startswith("Secret"))


async def _book_tags(book: Book) -> set[int]:
    return set(await BookTag.objects.filter(book_id=book.id).values_list("tag_id", flat=True))


async def _tag_books(tag_id: int) -> set[int]:
    return set(await BookTag.objects.filter(tag_id=tag_id).values_list("book_id", flat=True))


async def test_m2m_detail_leaves_out_hidden_rows(client: httpx.AsyncClient) -> None:
    s = await seed()
    secret, notes = _secret(s), s["books"][0]
    root = await headers_for(client, "root", superuser=True)
    for book in (secret, notes):
        response = await client.patch(f"{API}/models/book/{book.id}", json={"tags": [s["rings"].id]}, headers=root)
        assert response.status_code == 200, response.text
    assert sorted((await client.get(f"{API}/models/tag/{s['rings'].id}", headers=root)).json()["books"]) == sorted(
        [secret.id, notes.id]
    )
    viewer = await headers_for(client, "viewer", "tag.view", "book.view")
    assert (await client.get(f"{API}/models/tag/{s['rings'].id}", headers=viewer)).json()["books"] == [notes.id]
    # Without book.view no book is visible at all.
    tagger = await headers_for(client, "tagger", "tag.view")
    assert (await client.get(f"{API}/models/tag/{s['rings'].id}", headers=tagger)).json()["books"] == []


async def test_m2m_write_cannot_link_or_unlink_hidden_rows(client: httpx.AsyncClient) -> None:
    s = await seed()
    secret, notes, hobbit = _secret(s), s["books"][0], s["books"][1]
    root = await headers_for(client, "root", superuser=True)
    await client.patch(f"{API}/models/book/{secret.id}", json={"tags": [s["rings"].id]}, headers=root)
    editor = await headers_for(client, "editor", "tag.view", "tag.change", "book.view")
    # Linking a hidden row is refused like a missing one, naming the field.
    for key in (secret.id, 999999):
        response = await client.patch(f"{API}/models/tag/{s['maps'].id}", json={"books": [key]}, headers=editor)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "books"
    assert await _tag_books(s["maps"].id) == set()
    # The caller's list replaces only the part they see: the hidden link stays.
    response = await client.patch(f"{API}/models/tag/{s['rings'].id}", json={"books": []}, headers=editor)
    assert response.status_code == 200, response.text
    assert response.json()["books"] == []
    assert await _tag_books(s["rings"].id) == {secret.id}
    response = await client.patch(
        f"{API}/models/tag/{s['rings'].id}", json={"books": [notes.id, hobbit.id]}, headers=editor
    )
    assert response.status_code == 200, response.text
    assert sorted(response.json()["books"]) == sorted([notes.id, hobbit.id])
    assert await _tag_books(s["rings"].id) == {secret.id, notes.id, hobbit.id}
    # Someone who cannot see books at all touches no link.
    blind = await headers_for(client, "blind", "tag.view", "tag.change")
    response = await client.patch(f"{API}/models/tag/{s['rings'].id}", json={"books": []}, headers=blind)
    assert response.status_code == 200, response.text
    assert await _tag_books(s["rings"].id) == {secret.id, notes.id, hobbit.id}
    response = await client.patch(f"{API}/models/tag/{s['maps'].id}", json={"books": [notes.id]}, headers=blind)
    assert response.status_code == 422


async def test_m2m_keys_are_checked(client: httpx.AsyncClient) -> None:
    s = await seed()
    root = await headers_for(client, "root", superuser=True)
    book = s["books"][0]
    for tags in ([{}], ["x"], [None], [[1]], [True], [10**30]):
        response = await client.patch(f"{API}/models/book/{book.id}", json={"tags": tags}, headers=root)
        assert response.status_code == 422, (tags, response.text)
        assert response.json()["errors"][0]["field"] == "tags"
    response = await client.patch(f"{API}/models/book/{book.id}", json={"tags": [str(s["maps"].id)]}, headers=root)
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == [s["maps"].id]
    assert await _book_tags(book) == {s["maps"].id}


async def test_delete_preview_needs_get_and_counts_what_the_caller_sees(client: httpx.AsyncClient) -> None:
    s = await seed()
    book = s["books"][0]
    deleter = await headers_for(client, "deleter", "book.delete")
    assert (await client.get(f"{API}/models/book/{book.id}", headers=deleter)).status_code == 403
    assert (await client.get(f"{API}/models/book/{book.id}/delete-preview", headers=deleter)).status_code == 403
    # Without book.view the author's books are not counted (nor is a hidden one with it).
    blind = await headers_for(client, "blind", "author.view", "author.delete")
    preview = await client.get(f"{API}/models/author/{s['tolkien'].id}/delete-preview", headers=blind)
    assert preview.status_code == 200 and preview.json()["cascades"] == []


async def test_facet_labels_come_through_the_related_admin_or_are_keys(client: httpx.AsyncClient) -> None:
    from fastmango.auth import User
    from fastmango.auth.models import Group, UserGroup

    board = await Group.objects.create(name="Secret-Board-Members")
    viewer = await headers_for(client, "uv", "auth_user.view")
    me = await User.objects.get(username="uv")
    await UserGroup.objects.create(user_id=me.id, group_id=board.id)
    assert (await client.get(f"{API}/models/auth_group/autocomplete?pks={board.id}", headers=viewer)).status_code == 403
    facets = (await client.get(f"{API}/models/auth_user/facets?field=groups", headers=viewer)).json()
    labels = {value["value"]: value["label"] for value in facets["values"]}
    assert labels[board.id] == str(board.id)
    groups = await headers_for(client, "gv", "auth_user.view", "auth_group.view")
    facets = (await client.get(f"{API}/models/auth_user/facets?field=groups", headers=groups)).json()
    assert {value["value"]: value["label"] for value in facets["values"]}[board.id] == "Secret-Board-Members"


async def test_facet_labels_of_a_related_admin_the_caller_may_not_list_are_keys(client: httpx.AsyncClient) -> None:
    s = await seed()
    books = await headers_for(client, "bv", "book.view")
    facets = (await client.get(f"{API}/models/book/facets?field=author", headers=books)).json()
    assert {value["label"] for value in facets["values"]} == {str(s["ada"].id), str(s["tolkien"].id)}
    both = await headers_for(client, "both", "book.view", "author.view")
    facets = (await client.get(f"{API}/models/book/facets?field=author", headers=both)).json()
    assert {value["label"] for value in facets["values"]} == {"Ada Lovelace", "J. R. R. Tolkien"}


def test_an_inline_of_a_bare_model_goes_through_the_sites_resource_of_it() -> None:
    from fastmango.admin import AdminSite, Inline
    from fastmango.api import ModelResource
    from tests.admin.conftest import visible_books
    from tests.db.models import Author

    books = ModelResource(Book, queryset=visible_books)
    site = AdminSite()
    site.register(books)
    authors = site.register(Author, inlines=[Inline(Book), Book])
    assert [inline.resource for inline in authors.inline_admins] == [books, books]
    # Registered after the inline was declared: resolved when used.
    later = AdminSite()
    writers = later.register(Author, inlines=[Inline(Book)])
    later.register(books)
    assert writers.inline_admins[0].resource is books
    # A resource given explicitly stays the one used.
    own = ModelResource(Book)
    assert AdminSite().register(Author, inlines=[Inline(own)]).inline_admins[0].resource is own


async def test_m2m_history_shows_only_the_links_the_caller_may_see(client: httpx.AsyncClient) -> None:
    s = await seed()
    secret, notes = _secret(s), s["books"][0]
    root = await headers_for(client, "root", superuser=True)
    url = f"{API}/models/tag/{s['rings'].id}"
    await client.patch(url, json={"books": [secret.id, notes.id]}, headers=root)
    editor = await headers_for(client, "editor", "tag.view", "tag.change", "book.view")
    read = await client.get(f"{url}/history", headers=editor)
    assert read.status_code == 200, read.text
    [entry] = read.json()["items"]
    assert entry["changes"]["books"] == [[], [notes.id]]  # the secret book's id left out
    [full] = (await client.get(f"{url}/history", headers=root)).json()["items"]
    assert sorted(full["changes"]["books"][1]) == sorted([secret.id, notes.id])
