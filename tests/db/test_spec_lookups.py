"""Spec tests for filtering: every lookup, date transforms, relations, Q, F, exclude with NULLs, FieldError."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from fastmango.db import Count, F, FieldError, Q, Sum
from tests.db.models import Author, Book, BookTag, Publisher, Tag

TEXT_TITLES = ["Dune", "dune road", "DUNE", "Sand Dunes", "100% Pure", "100 Pure", "snake_case", "snakeXcase"]


async def titles(queryset) -> set[str]:
    return {book.title for book in await queryset}


async def seed_titles(*names: str) -> Author:
    author = await Author.objects.create(name="Writer")
    await Book.objects.bulk_create([Book(title=name, author_id=author.id) for name in names])
    return author


async def seed_numbers() -> dict[str, Book]:
    """Four books with distinct pages, prices and publication dates (one unpublished)."""
    author = await Author.objects.create(name="Counter")
    rows = [
        Book(title="a", pages=100, price=Decimal("5.00"), published=datetime.date(2019, 12, 31), author_id=author.id),
        Book(title="b", pages=250, price=Decimal("10.50"), published=datetime.date(2020, 6, 15), author_id=author.id),
        Book(title="c", pages=400, price=Decimal("20.00"), published=datetime.date(2020, 7, 1), author_id=author.id),
        Book(title="d", pages=600, price=Decimal("30.00"), published=None, author_id=author.id),
    ]
    await Book.objects.bulk_create(rows)
    return {book.title: book for book in rows}


async def seed_library() -> dict[str, object]:
    """Publisher Ace; Herbert (Ace) with two Dune books, Le Guin (no publisher, no email) with two, Asimov with none."""
    ace = await Publisher.objects.create(name="Ace")
    herbert = await Author.objects.create(name="Frank Herbert", email="frank@example.com", publisher_id=ace.id)
    le_guin = await Author.objects.create(name="Ursula Le Guin")
    asimov = await Author.objects.create(name="Isaac Asimov", email="isaac@example.com")
    dune = await Book.objects.create(title="Dune", pages=412, author_id=herbert.id)
    messiah = await Book.objects.create(title="Dune Messiah", pages=256, author_id=herbert.id)
    dispossessed = await Book.objects.create(title="The Dispossessed", pages=387, author_id=le_guin.id)
    earthsea = await Book.objects.create(title="Earthsea", pages=183, author_id=le_guin.id)
    scifi = await Tag.objects.create(name="scifi")
    fantasy = await Tag.objects.create(name="fantasy")
    classic = await Tag.objects.create(name="classic")
    links = [(dune, scifi), (messiah, scifi), (dispossessed, scifi), (earthsea, fantasy), (dune, classic)]
    links.append((earthsea, classic))
    await BookTag.objects.bulk_create([BookTag(book_id=b.id, tag_id=t.id) for b, t in links])
    return {
        "ace": ace,
        "herbert": herbert,
        "le_guin": le_guin,
        "asimov": asimov,
        "scifi": scifi,
        "fantasy": fantasy,
        "classic": classic,
    }


# -- text lookups ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lookup", "value", "expected"),
    [
        ("exact", "Dune", {"Dune"}),
        ("exact", "dune", set()),
        ("iexact", "dune", {"Dune", "DUNE"}),
        ("iexact", "dun", set()),
        ("contains", "Dun", {"Dune", "Sand Dunes"}),
        ("contains", "dun", {"dune road"}),
        ("contains", "UNE", {"DUNE"}),
        ("icontains", "dun", {"Dune", "dune road", "DUNE", "Sand Dunes"}),
        ("icontains", "zzz", set()),
        ("startswith", "Dun", {"Dune"}),
        ("startswith", "dun", {"dune road"}),
        ("istartswith", "dun", {"Dune", "dune road", "DUNE"}),
        ("istartswith", "road", set()),
        ("endswith", "une", {"Dune"}),
        ("endswith", "UNE", {"DUNE"}),
        ("iendswith", "UNE", {"Dune", "DUNE"}),
        ("iendswith", "dun", set()),
    ],
)
async def test_text_lookup_matches_expected_titles(db, lookup, value, expected):
    await seed_titles(*TEXT_TITLES)

    assert await titles(Book.objects.filter(**{f"title__{lookup}": value})) == expected


async def test_plain_keyword_is_exact_match(db):
    await seed_titles(*TEXT_TITLES)

    assert await titles(Book.objects.filter(title="DUNE")) == {"DUNE"}


@pytest.mark.parametrize(
    ("lookup", "value", "expected"),
    [
        ("contains", "%", {"100% Pure"}),
        ("icontains", "0% p", {"100% Pure"}),
        ("startswith", "100%", {"100% Pure"}),
        ("istartswith", "100% P", {"100% Pure"}),
        ("endswith", "% Pure", {"100% Pure"}),
        ("contains", "_", {"snake_case"}),
        ("icontains", "E_C", {"snake_case"}),
        ("startswith", "snake_", {"snake_case"}),
        ("iendswith", "E_CASE", {"snake_case"}),
        ("exact", "snake_case", {"snake_case"}),
    ],
)
async def test_percent_and_underscore_in_values_match_literally(db, lookup, value, expected):
    await seed_titles(*TEXT_TITLES)

    assert await titles(Book.objects.filter(**{f"title__{lookup}": value})) == expected


# -- comparison, in, range, isnull ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lookups", "expected"),
    [
        ({"pages__gt": 250}, {"c", "d"}),
        ({"pages__gte": 250}, {"b", "c", "d"}),
        ({"pages__lt": 250}, {"a"}),
        ({"pages__lte": 250}, {"a", "b"}),
        ({"pages__gt": 600}, set()),
        ({"price__gt": Decimal("10.50")}, {"c", "d"}),
        ({"price__lte": Decimal("10.50")}, {"a", "b"}),
        ({"published__gte": datetime.date(2020, 6, 15)}, {"b", "c"}),
        ({"published__lt": datetime.date(2020, 1, 1)}, {"a"}),
        ({"pages__in": [100, 400, 999]}, {"a", "c"}),
        ({"pages__in": []}, set()),
        ({"title__in": ("b", "d")}, {"b", "d"}),
        ({"pages__range": (250, 400)}, {"b", "c"}),
        ({"pages__range": (401, 599)}, set()),
        ({"published__range": (datetime.date(2020, 1, 1), datetime.date(2020, 7, 1))}, {"b", "c"}),
        ({"published__isnull": True}, {"d"}),
        ({"published__isnull": False}, {"a", "b", "c"}),
        ({"published": None}, {"d"}),
        ({"pages__gt": 100, "pages__lt": 600}, {"b", "c"}),
    ],
)
async def test_comparison_lookup_matches_expected_rows(db, lookups, expected):
    await seed_numbers()

    assert await titles(Book.objects.filter(**lookups)) == expected


async def test_pk_lookups_use_the_primary_key(db):
    books = await seed_numbers()

    assert await titles(Book.objects.filter(pk=books["b"].id)) == {"b"}
    assert await titles(Book.objects.filter(pk__in=[books["a"].id, books["c"].id])) == {"a", "c"}
    assert await titles(Book.objects.filter(id__gt=books["c"].id)) == {"d"}


# -- date transforms -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lookups", "expected"),
    [
        ({"published__year": 2020}, {"b", "c"}),
        ({"published__year": 2019}, {"a"}),
        ({"published__year": 2021}, set()),
        ({"published__year__gte": 2020}, {"b", "c"}),
        ({"published__year__lt": 2020}, {"a"}),
        ({"published__month": 6}, {"b"}),
        ({"published__month__gte": 6}, {"a", "b", "c"}),
        ({"published__month__in": [6, 7]}, {"b", "c"}),
        ({"published__day": 1}, {"c"}),
        ({"published__day__gt": 14}, {"a", "b"}),
        ({"published__year": 2020, "published__month": 7}, {"c"}),
    ],
)
async def test_date_transform_matches_expected_rows(db, lookups, expected):
    await seed_numbers()

    assert await titles(Book.objects.filter(**lookups)) == expected


# -- across relations ---------------------------------------------------------------------------------


async def test_filter_across_forward_relation(db):
    await seed_library()

    assert await titles(Book.objects.filter(author__name__icontains="herbert")) == {"Dune", "Dune Messiah"}
    assert await titles(Book.objects.filter(author__name__startswith="Ursula")) == {"The Dispossessed", "Earthsea"}


async def test_filter_across_two_forward_relations(db):
    await seed_library()

    assert await titles(Book.objects.filter(author__publisher__name="Ace")) == {"Dune", "Dune Messiah"}


async def test_filter_by_related_instance_or_its_id(db):
    library = await seed_library()
    herbert = library["herbert"]

    assert await titles(Book.objects.filter(author=herbert)) == {"Dune", "Dune Messiah"}
    assert await titles(Book.objects.filter(author_id=herbert.id)) == {"Dune", "Dune Messiah"}
    assert await titles(Book.objects.filter(author__id=herbert.id)) == {"Dune", "Dune Messiah"}


async def test_filter_across_reverse_relation_returns_each_author_once(db):
    await seed_library()

    authors = await Author.objects.filter(books__title__startswith="Dune")

    assert [a.name for a in authors] == ["Frank Herbert"]


async def test_filter_across_reverse_relation_count_has_no_duplicates(db):
    await seed_library()

    assert await Author.objects.filter(books__pages__gt=100).count() == 2


async def test_filter_reverse_relation_isnull_finds_authors_without_books(db):
    await seed_library()

    assert [a.name for a in await Author.objects.filter(books__isnull=True)] == ["Isaac Asimov"]


async def test_filter_many_to_many_from_book_side(db):
    await seed_library()

    assert await titles(Book.objects.filter(tags__name="scifi")) == {"Dune", "Dune Messiah", "The Dispossessed"}


async def test_filter_many_to_many_from_tag_side_returns_each_tag_once(db):
    await seed_library()

    tags = await Tag.objects.filter(books__author__name="Frank Herbert").order_by("name")

    assert [t.name for t in tags] == ["classic", "scifi"]


async def test_filter_many_to_many_with_in_lookup_returns_each_book_once(db):
    await seed_library()

    books = await Book.objects.filter(tags__name__in=["scifi", "classic"])

    assert sorted(b.title for b in books) == ["Dune", "Dune Messiah", "Earthsea", "The Dispossessed"]


# -- Q objects ------------------------------------------------------------------------------------------


async def test_q_or_combines_alternatives(db):
    await seed_numbers()

    assert await titles(Book.objects.filter(Q(pages__lt=200) | Q(pages__gt=500))) == {"a", "d"}


async def test_q_and_combines_conditions(db):
    await seed_numbers()

    assert await titles(Book.objects.filter(Q(pages__gt=200) & Q(price__lt=Decimal("25")))) == {"b", "c"}


async def test_negated_q_excludes_matches(db):
    await seed_numbers()

    assert await titles(Book.objects.filter(~Q(title__in=["a", "b"]))) == {"c", "d"}


async def test_q_mixed_with_negation_and_keywords(db):
    await seed_numbers()

    queryset = Book.objects.filter((Q(pages__lt=300) | Q(title="d")) & ~Q(title="a"), price__gt=Decimal("1"))

    assert await titles(queryset) == {"b", "d"}


async def test_q_across_relations(db):
    await seed_library()

    queryset = Book.objects.filter(Q(author__name="Frank Herbert") | Q(tags__name="fantasy"))

    assert await titles(queryset) == {"Dune", "Dune Messiah", "Earthsea"}


async def test_negated_q_keeps_rows_where_the_column_is_null(db):
    await seed_numbers()

    assert await titles(Book.objects.filter(~Q(published__year=2020))) == {"a", "d"}


# -- exclude ----------------------------------------------------------------------------------------------


async def test_exclude_removes_matching_rows(db):
    await seed_numbers()

    assert await titles(Book.objects.exclude(pages__gte=400)) == {"a", "b"}


async def test_exclude_keeps_rows_where_the_column_is_null(db):
    await seed_numbers()

    assert await titles(Book.objects.exclude(published=datetime.date(2020, 6, 15))) == {"a", "c", "d"}
    assert await titles(Book.objects.exclude(published__gt=datetime.date(2020, 1, 1))) == {"a", "d"}


async def test_exclude_text_lookup_keeps_null_emails(db):
    await seed_library()

    names = {a.name for a in await Author.objects.exclude(email__icontains="frank")}

    assert names == {"Ursula Le Guin", "Isaac Asimov"}


async def test_exclude_across_null_relation_keeps_rows(db):
    await seed_library()

    names = {a.name for a in await Author.objects.exclude(publisher__name="Ace")}

    assert names == {"Ursula Le Guin", "Isaac Asimov"}


async def test_exclude_with_several_keywords_excludes_rows_matching_all(db):
    await seed_numbers()

    assert await titles(Book.objects.exclude(pages__gt=200, price__lt=Decimal("25"))) == {"a", "d"}


async def test_exclude_across_reverse_relation(db):
    await seed_library()

    names = {a.name for a in await Author.objects.exclude(books__title="Earthsea")}

    assert names == {"Frank Herbert", "Isaac Asimov"}


# -- F expressions in filters ---------------------------------------------------------------------------


async def test_f_compares_two_columns(db):
    await seed_numbers()

    # prices 5, 10.5, 20, 30 against pages / 21: about 4.8, 11.9, 19.0, 28.6
    assert await titles(Book.objects.filter(price__gt=F("pages") / 21)) == {"a", "c", "d"}
    assert await titles(Book.objects.filter(price__lt=F("pages") / 21)) == {"b"}


async def test_f_with_arithmetic_in_filter(db):
    await seed_numbers()

    assert await titles(Book.objects.filter(pages__gt=F("price") * 20)) == {"b"}


async def test_f_across_relation_in_filter(db):
    author = await Author.objects.create(name="Echo")
    await Book.objects.create(title="Echo", author_id=author.id)
    await Book.objects.create(title="Other", author_id=author.id)

    assert await titles(Book.objects.filter(title=F("author__name"))) == {"Echo"}


# -- errors -------------------------------------------------------------------------------------------------


async def test_unknown_field_raises_field_error_naming_it(db):
    with pytest.raises(FieldError, match="nosuchfield"):
        await Book.objects.filter(nosuchfield=1)


async def test_unknown_lookup_raises_field_error_naming_it(db):
    with pytest.raises(FieldError, match="nosuchlookup"):
        await Book.objects.filter(title__nosuchlookup="x")


async def test_unknown_field_across_relation_raises_field_error_naming_it(db):
    with pytest.raises(FieldError, match="nosuchfield"):
        await Book.objects.filter(author__nosuchfield="x")


async def test_unknown_field_in_exclude_and_q_raises_field_error(db):
    with pytest.raises(FieldError, match="bogus"):
        await Book.objects.exclude(bogus=1)
    with pytest.raises(FieldError, match="bogus"):
        await Book.objects.filter(Q(title="x") | Q(bogus=1))


async def test_unknown_field_in_order_by_raises_field_error(db):
    with pytest.raises(FieldError, match="nosuchfield"):
        await Book.objects.order_by("-nosuchfield")


async def test_unknown_field_in_values_raises_field_error(db):
    with pytest.raises(FieldError, match="nosuchfield"):
        await Book.objects.values("title", "nosuchfield")


async def test_unknown_field_in_update_raises_field_error(db):
    with pytest.raises(FieldError, match="nosuchfield"):
        await Book.objects.update(nosuchfield=1)


async def test_unknown_relation_in_select_related_raises_field_error(db):
    with pytest.raises(FieldError, match="nosuchrelation"):
        await Book.objects.select_related("nosuchrelation")


async def test_unknown_relation_in_prefetch_related_raises_field_error(db):
    with pytest.raises(FieldError, match="nosuchrelation"):
        await Author.objects.prefetch_related("nosuchrelation")


async def test_unknown_lookup_across_relation_raises_field_error_naming_it(db):
    with pytest.raises(FieldError, match="nosuchlookup"):
        await Book.objects.filter(author__name__nosuchlookup="x")


async def test_unknown_field_in_aggregate_raises_field_error_naming_it(db):
    with pytest.raises(FieldError, match="nosuchfield"):
        await Book.objects.aggregate(total=Sum("nosuchfield"))


async def test_unknown_relation_in_annotate_raises_field_error_naming_it(db):
    with pytest.raises(FieldError, match="nosuchrelation"):
        await Author.objects.annotate(n=Count("nosuchrelation"))


async def test_date_transform_across_reverse_relation(db):
    await seed_numbers()
    await Author.objects.create(name="Idle")

    assert [a.name for a in await Author.objects.filter(books__published__year=2020)] == ["Counter"]


async def test_filter_many_to_many_by_instance(db):
    library = await seed_library()

    assert await titles(Book.objects.filter(tags=library["fantasy"])) == {"Earthsea"}
    assert await titles(Book.objects.filter(tags__in=[library["fantasy"], library["classic"]])) == {"Dune", "Earthsea"}


async def test_filter_forward_relation_in_instances(db):
    library = await seed_library()

    books = Book.objects.filter(author__in=[library["le_guin"], library["asimov"]])

    assert await titles(books) == {"The Dispossessed", "Earthsea"}


async def test_get_across_reverse_relation_with_two_matching_rows_returns_one_author(db):
    await seed_library()

    author = await Author.objects.get(books__title__startswith="Dune")

    assert author.name == "Frank Herbert"


async def test_exclude_isnull(db):
    await seed_numbers()

    assert await titles(Book.objects.exclude(published__isnull=True)) == {"a", "b", "c"}


async def test_empty_in_matches_nothing_and_its_exclusion_matches_everything(db):
    await seed_numbers()

    assert await Book.objects.filter(pages__in=[]).count() == 0
    assert await titles(Book.objects.exclude(pages__in=[])) == {"a", "b", "c", "d"}
    assert await titles(Book.objects.filter(Q(pages__in=[]) | Q(title="a"))) == {"a"}
