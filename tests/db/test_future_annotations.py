"""Models in modules with ``from __future__ import annotations`` (fastmango/db/annotations.py): relationships written
as strings map to their models and work through the ORM on both databases; names that cannot be resolved are a
``ModelDefinitionError`` naming the model, the field and the name."""

from __future__ import annotations

import datetime
import enum
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Iterator
from types import ModuleType

import pytest
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from fastmango import db as fdb
from fastmango.api.schemas import schema_for
from fastmango.db import Field, Model, ModelDefinitionError, Relationship
from fastmango.db.types import UTCDateTime
from fastmango.testing import postgres_url_or_skip
from tests.db.future_models import TABLES, FaAgent, FaAuthor, FaBook, FaBookTag, FaGenre, FaTag


@pytest.fixture(params=["sqlite", "postgres"])
async def fa_db(request: pytest.FixtureRequest) -> AsyncIterator[fdb.Database]:
    """The future models' tables, on each backend in turn (on PostgreSQL in the test database, dropped after)."""
    url = "sqlite:///:memory:" if request.param == "sqlite" else postgres_url_or_skip()
    database = await fdb.connect(url)
    tables = [SQLModel.metadata.tables[name] for name in TABLES]
    async with database.engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.drop_all, tables=tables)  # left by an interrupted run
        await conn.run_sync(SQLModel.metadata.create_all, tables=tables)
    try:
        yield database
    finally:
        async with database.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.drop_all, tables=tables)
        await fdb.disconnect()


async def seed() -> None:
    """Agent Ray represents Le Guin (Earthsea: fantasy, classic); Herbert has no agent (Dune: classic)."""
    ray = await FaAgent.objects.create(name="Ray")
    le_guin = await FaAuthor.objects.create(name="Le Guin", born=datetime.date(1929, 10, 21), agent_id=ray.id)
    herbert = await FaAuthor.objects.create(name="Herbert")
    earthsea = await FaBook.objects.create(
        title="Earthsea", author_id=le_guin.id, written=datetime.datetime(1968, 1, 1, tzinfo=datetime.UTC)
    )
    dune = await FaBook.objects.create(title="Dune", author_id=herbert.id, genre=FaGenre.essay)
    fantasy = await FaTag.objects.create(name="fantasy")
    classic = await FaTag.objects.create(name="classic")
    await FaBookTag.objects.bulk_create(
        [
            FaBookTag(book_id=earthsea.id, tag_id=fantasy.id),
            FaBookTag(book_id=earthsea.id, tag_id=classic.id),
            FaBookTag(book_id=dune.id, tag_id=classic.id),
        ]
    )


# -- mapping -------------------------------------------------------------------------------------------------------


def test_string_relationships_map_to_their_models() -> None:
    relations = {
        (model.__name__, name): (rel.mapper.class_, rel.uselist)
        for model in (FaAuthor, FaBook, FaTag, FaAgent)
        for name, rel in model.__mapper__.relationships.items()
    }

    assert relations == {
        ("FaAuthor", "agent"): (FaAgent, False),  # declared below FaAuthor
        ("FaAuthor", "books"): (FaBook, True),  # list[FaBook], declared below FaAuthor
        ("FaBook", "author"): (FaAuthor, False),
        ("FaBook", "tags"): (FaTag, True),
        ("FaTag", "books"): (FaBook, True),  # list["FaBook"]
        ("FaAgent", "authors"): (FaAuthor, True),
    }
    assert FaBook.__mapper__.relationships["tags"].secondary is FaBookTag.__table__


def test_string_column_annotations_give_their_column_types() -> None:
    columns = FaBook.__table__.columns

    assert isinstance(columns["genre"].type, SAEnum)
    assert columns["genre"].type.enum_class is FaGenre
    assert isinstance(columns["written"].type, UTCDateTime)
    assert columns["written"].nullable
    assert not columns["title"].nullable
    assert FaAuthor.__table__.columns["born"].nullable


# -- through the ORM, on both databases ----------------------------------------------------------------------------


async def test_create_and_read_back_enum_and_datetime_columns(fa_db: fdb.Database) -> None:
    await seed()

    earthsea = await FaBook.objects.get(title="Earthsea")
    dune = await FaBook.objects.get(title="Dune")

    assert (earthsea.genre, dune.genre) == (FaGenre.novel, FaGenre.essay)
    assert earthsea.written == datetime.datetime(1968, 1, 1, tzinfo=datetime.UTC)
    assert dune.written is None
    assert (await FaAuthor.objects.get(name="Le Guin")).born == datetime.date(1929, 10, 21)


async def test_filter_across_to_one_to_many_and_many_to_many_relations(fa_db: fdb.Database) -> None:
    await seed()

    assert [b.title for b in await FaBook.objects.filter(author__name="Herbert")] == ["Dune"]
    assert [b.title for b in await FaBook.objects.filter(author__agent__name="Ray")] == ["Earthsea"]
    assert [a.name for a in await FaAuthor.objects.filter(books__tags__name="fantasy")] == ["Le Guin"]
    assert sorted(b.title for b in await FaBook.objects.filter(tags__name="classic")) == ["Dune", "Earthsea"]
    assert [t.name for t in await FaTag.objects.filter(books__genre=FaGenre.essay)] == ["classic"]


async def test_select_related_follows_to_one_relations(fa_db: fdb.Database) -> None:
    await seed()

    books = await FaBook.objects.select_related("author__agent").order_by("title")

    assert [
        (b.title, b.author and b.author.name, b.author and b.author.agent and b.author.agent.name) for b in books
    ] == [
        ("Dune", "Herbert", None),
        ("Earthsea", "Le Guin", "Ray"),
    ]


async def test_prefetch_related_follows_to_many_and_many_to_many_relations(fa_db: fdb.Database) -> None:
    await seed()

    authors = await FaAuthor.objects.prefetch_related("books__tags").order_by("name")
    agents = await FaAgent.objects.prefetch_related("authors")

    assert [(a.name, [(b.title, sorted(t.name for t in b.tags)) for b in a.books]) for a in authors] == [
        ("Herbert", [("Dune", ["classic"])]),
        ("Le Guin", [("Earthsea", ["classic", "fantasy"])]),
    ]
    assert [[a.name for a in agent.authors] for agent in agents] == [["Le Guin"]]


async def test_read_schema_nests_string_annotated_relations(fa_db: fdb.Database) -> None:
    await seed()
    read = schema_for(FaBook, "read", relations=("author", "tags"))

    book = await FaBook.objects.select_related("author").prefetch_related("tags").get(title="Earthsea")
    data = read.model_validate(book).model_dump(mode="json")

    assert read.model_fields["author"].annotation == schema_for(FaAuthor, "read") | None
    assert data["genre"] == "novel"
    assert data["written"] == "1968-01-01T00:00:00Z"
    assert data["author"]["name"] == "Le Guin"
    assert sorted(t["name"] for t in data["tags"]) == ["classic", "fantasy"]


def test_create_schema_of_a_future_model_takes_its_column_types() -> None:
    create = schema_for(FaBook, "create")

    body = create.model_validate({"title": "Lathe", "genre": "essay", "written": "1971-03-01T00:00:00Z"})

    assert "id" not in create.model_fields
    assert body.genre is FaGenre.essay  # type: ignore[attr-defined]
    assert body.written == datetime.datetime(1971, 3, 1, tzinfo=datetime.UTC)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="genre"):
        create.model_validate({"title": "Lathe", "genre": "poem"})


# -- models declared elsewhere: in a function, across modules ------------------------------------------------------


@pytest.fixture
def private_registry() -> Iterator[type[Model]]:
    """A base with a registry (and metadata) of its own, so a broken model never reaches the shared one."""
    own = registry()

    class Base(Model, registry=own):
        pass

    yield Base
    own.dispose()
    for name in [name for name in sys.modules if name.startswith(_DECLARED)]:
        del sys.modules[name]


_DECLARED = "tests.db.fa_declared_"


def declare(source: str, base: type[Model]) -> ModuleType:
    """Run ``source`` as a module of its own under postponed annotations, with ``Base`` and the fastmango names."""
    module = ModuleType(f"{_DECLARED}{uuid.uuid4().hex[:8]}")
    module.__dict__.update(Base=base, Field=Field, Relationship=Relationship)
    sys.modules[module.__name__] = module
    try:
        exec(
            compile("from __future__ import annotations\n" + textwrap.dedent(source), module.__name__, "exec"),
            vars(module),
        )
    except BaseException:
        del sys.modules[module.__name__]
        raise
    return module


def test_models_declared_in_a_function_resolve_each_other_and_local_types(private_registry: type[Model]) -> None:
    class LocStatus(enum.Enum):
        active = "active"

    class LocAuthor(private_registry, table=True):  # type: ignore[valid-type, misc, call-arg]
        id: int | None = Field(default=None, primary_key=True)
        status: LocStatus = LocStatus.active  # pydantic alone would look for LocStatus in SQLModel's frame
        books: list[LocBook] = Relationship(back_populates="author")

    class LocBook(private_registry, table=True):  # type: ignore[valid-type, misc, call-arg]
        id: int | None = Field(default=None, primary_key=True)
        author_id: int | None = Field(default=None, foreign_key="locauthor.id")
        author: LocAuthor | None = Relationship(back_populates="books")

    LocAuthor._sa_registry.configure()

    assert LocAuthor.__table__.columns["status"].type.enum_class is LocStatus  # type: ignore[attr-defined]
    assert LocAuthor.__mapper__.relationships["books"].mapper.class_ is LocBook
    assert LocBook.__mapper__.relationships["author"].mapper.class_ is LocAuthor


def test_a_model_imported_only_for_type_checking_resolves_by_name(private_registry: type[Model]) -> None:
    authors = declare(
        """
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from elsewhere import XmBook

        class XmAuthor(Base, table=True):
            id: int | None = Field(default=None, primary_key=True)
            books: list[XmBook] = Relationship(back_populates="author")
        """,
        private_registry,
    )
    books = declare(
        f"""
        from {authors.__name__} import XmAuthor

        class XmBook(Base, table=True):
            id: int | None = Field(default=None, primary_key=True)
            author_id: int | None = Field(default=None, foreign_key="xmauthor.id")
            author: XmAuthor | None = Relationship(back_populates="books")
        """,
        private_registry,
    )

    private_registry._sa_registry.configure()

    assert authors.XmAuthor.__mapper__.relationships["books"].mapper.class_ is books.XmBook
    assert books.XmBook.__mapper__.relationships["author"].mapper.class_ is authors.XmAuthor


# -- what cannot be resolved ---------------------------------------------------------------------------------------


def test_a_misspelt_relationship_target_is_an_error_at_first_configuration(private_registry: type[Model]) -> None:
    module = declare(
        """
        class TyAuthor(Base, table=True):
            id: int | None = Field(default=None, primary_key=True)
            books: list[TyBook] = Relationship(back_populates="author")

        class TyBook(Base, table=True):
            id: int | None = Field(default=None, primary_key=True)
            author_id: int | None = Field(default=None, foreign_key="tyauthor.id")
            author: TyAuthr | None = Relationship(back_populates="books")
        """,
        private_registry,
    )

    with pytest.raises(ModelDefinitionError) as error:
        private_registry._sa_registry.configure()

    message = str(error.value)
    assert f"{module.__name__}.TyBook.author" in message
    assert "'TyAuthr' (in the annotation 'TyAuthr | None')" in message
    assert "did you mean 'TyAuthor'?" in message


def test_a_relationship_to_a_model_without_a_table_is_an_error(private_registry: type[Model]) -> None:
    with pytest.raises(ModelDefinitionError, match=r"NtBook\.author: 'NtAuthor' .* is .*NtAuthor, not a table model"):
        declare(
            """
            class NtAuthor(Base):
                name: str

            class NtBook(Base, table=True):
                id: int | None = Field(default=None, primary_key=True)
                author: NtAuthor | None = Relationship()
            """,
            private_registry,
        )
    declare(
        """
        class NlBook(Base, table=True):
            id: int | None = Field(default=None, primary_key=True)
            author: NlAuthor | None = Relationship()

        class NlAuthor(Base):
            name: str
        """,
        private_registry,
    )
    with pytest.raises(ModelDefinitionError, match=r"NlBook\.author: 'NlAuthor' .* is .*NlAuthor, not a table model"):
        private_registry._sa_registry.configure()


def test_an_undefined_generic_in_a_relationship_is_an_error_at_declaration(private_registry: type[Model]) -> None:
    with pytest.raises(ModelDefinitionError, match=r"UgAuthor\.books: 'List' \(in the annotation 'List\[UgBook\]'\)"):
        declare(
            """
            class UgAuthor(Base, table=True):
                id: int | None = Field(default=None, primary_key=True)
                books: List[UgBook] = Relationship()
            """,
            private_registry,
        )


def test_an_undefined_column_type_is_an_error_at_declaration(private_registry: type[Model]) -> None:
    with pytest.raises(ModelDefinitionError) as error:
        declare(
            """
            import enum

            class Colour(enum.Enum):
                red = "red"

            class UcThing(Base, table=True):
                id: int | None = Field(default=None, primary_key=True)
                colour: Colur | None = None
            """,
            private_registry,
        )

    message = str(error.value)
    assert "UcThing.colour: 'Colur' (in the annotation 'Colur | None') is not defined" in message
    assert "did you mean 'Colour'?" in message
