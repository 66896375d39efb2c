"""The database commands, run as a user runs them: the real ``fastmango`` script in a generated project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fastmango.cli import app
from fastmango.cli.db_commands import client_command
from fastmango.cli.main import _register_commands
from fastmango.core.plugins import load_plugin
from fastmango.core.settings import DEFAULT_PLUGINS
from tests.db.test_migrations import database_state, fresh_postgres_url  # noqa: F401  (fixture)

FASTMANGO = str(Path(sys.executable).parent / "fastmango")

MODELS = """from sqlmodel import Field, SQLModel


class Post(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str
"""


class Project:
    """A generated project and the database its commands use."""

    def __init__(self, root: Path, database_url: str) -> None:
        self.root = root
        self.database_url = database_url
        self.models = root / root.name / "models.py"

    def run(self, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
        """Run a command that must succeed; return its output."""
        result = self.call(*args, env=env, stdin=stdin)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def call(
        self, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        # No .pyc files: models.py changes between commands faster than its mtime would tell.
        environment = {**os.environ, "DATABASE_URL": self.database_url, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
        return subprocess.run(
            [FASTMANGO, *args], cwd=self.root, env=environment, capture_output=True, text=True, input=stdin, timeout=60
        )

    def revisions(self) -> list[Path]:
        return sorted((self.root / "migrations").glob("*.py"))

    def tables(self, sql: str | None = None) -> dict[str, list[str]]:
        return database_state(self.database_url, sql)


def init_project(folder: Path) -> Path:
    """``fastmango init blog`` (in-process: the commands under test run as subprocesses)."""
    _register_commands()
    result = CliRunner().invoke(app, ["init", "blog", "--directory", str(folder / "blog")])
    assert result.exit_code == 0, result.output
    return folder / "blog"


@pytest.fixture(params=["sqlite", "postgres"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Project:
    """A project from ``fastmango init`` with a ``Post`` model, on each backend in turn."""
    root = init_project(tmp_path)
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'db.sqlite3'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    project = Project(root, url)
    project.models.write_text(MODELS)
    return project


sqlite_only = pytest.mark.parametrize("project", ["sqlite"], indirect=True)


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert fragment in result.stderr


def test_migration_lifecycle(project: Project) -> None:
    framework = project.run("migrate")  # a fresh project: fastmango's own tables, with no makemigrations
    assert "Applied fastmango_auth_0001  initial" in framework
    assert "Applied fastmango_ai_0001  initial" in framework
    assert {"auth_user", "auth_permission", "ai_usage"} <= set(project.tables())

    made = project.run("makemigrations")
    assert "create table post" in made
    assert "auth_user" not in made  # framework tables are not the project's
    [first] = project.revisions()
    rev1 = first.name.split("_")[1]
    assert first.name == f"0001_{rev1}_initial.py"
    assert "op.create_table('auth_user'" not in first.read_text()
    shown = project.run("showmigrations")
    assert "fastmango_auth\n [X] 0001_initial\n" in shown
    assert f"migrations/\n [ ] 0001_{rev1}_initial" in shown
    assert "CREATE TABLE post" in project.run("sqlmigrate", "0001")
    assert "post" not in project.tables()  # sqlmigrate ran nothing

    assert f"Applied {rev1}  initial" in project.run("migrate")
    assert project.tables()["post"] == ["id", "title"]
    assert project.run("makemigrations").strip() == "No changes detected"
    assert project.revisions() == [first]

    assert f"Reverted {rev1}  initial" in project.run("migrate", "-1")
    assert "post" not in project.tables()
    assert "auth_user" in project.tables()  # -1 steps back the project's own revisions
    reverted = project.run("migrate", "zero")
    assert "Reverted fastmango_auth_0001" in reverted
    assert set(project.tables()) <= {"alembic_version"}
    assert "Applied" in project.run("migrate")

    project.models.write_text(MODELS + "    views: int | None = None\n")
    assert "add column post.views" in project.run("makemigrations")
    second = project.revisions()[-1]
    rev2 = second.name.split("_")[1]
    assert second.name == f"0002_{rev2}_add_post_views.py"
    assert "batch_op.add_column(sa.Column('views'" in second.read_text()
    assert f" [X] 0001_{rev1}_initial\n [ ] 0002_{rev2}_add_post_views\n" in project.run("showmigrations")
    assert f"Applied {rev2}  add_post_views" in project.run("migrate")
    assert project.tables()["post"] == ["id", "title", "views"]
    shown = project.run("shell", "-c", "print(sorted(Post.__table__.columns.keys()))")
    assert shown.strip() == "['id', 'title', 'views']"


def test_table_renamed_by_hand_migrates_forward_and_back(project: Project) -> None:
    project.run("migrate")
    project.run("makemigrations")
    project.run("migrate")
    project.tables("INSERT INTO post (id, title) VALUES (1, 'kept')")
    project.models.write_text(MODELS.replace("table=True):\n", 'table=True):\n    __tablename__ = "article"\n'))
    project.run("makemigrations", "-m", "rename post to article")
    revision = project.revisions()[-1]
    assert revision.name.startswith("0002_")
    assert revision.name.endswith("_rename_post_to_article.py")
    source = revision.read_text()
    assert "op.create_table('article'" in source  # autogenerate sees a new table and a dropped one
    head = source[: source.index("def upgrade() -> None:")]
    revision.write_text(
        head + "def upgrade() -> None:\n    op.rename_table('post', 'article')\n\n\n"
        "def downgrade() -> None:\n    op.rename_table('article', 'post')\n"
    )

    project.run("migrate")
    tables = project.tables("UPDATE article SET title = title || '!'")
    assert "post" not in tables
    assert tables["article"] == ["id", "title"]
    assert project.run("makemigrations").strip() == "No changes detected"

    assert "Reverted" in project.run("migrate", "-1")
    assert "article" not in project.tables()
    assert project.tables("UPDATE post SET title = title || '?'")["post"] == ["id", "title"]
    assert "Applied" in project.run("migrate")
    assert project.run("migrate").strip() == "No migrations to apply."
    assert "article" in project.tables()


@sqlite_only
def test_user_mistakes_are_one_line_errors(project: Project) -> None:
    assert "No migrations in migrations/ yet" in project.run("showmigrations")
    # One revision of each framework plugin with tables (auth, api, tasks, ai, monitoring...): none applied yet.
    revisions = sum(1 for spec in DEFAULT_PLUGINS if getattr(load_plugin(spec), "migrations", None))
    assert_one_line_error(project.call("makemigrations"), f"the database lacks {revisions} migration(s) (0001_initial")
    assert "run `fastmango migrate` first" in project.call("makemigrations").stderr
    project.run("migrate")
    project.run("makemigrations")
    assert_one_line_error(project.call("makemigrations"), "the database lacks 1 migration(s) (0001_")
    assert_one_line_error(project.call("migrate", "nope"), "no migration 'nope' in migrations/")
    assert_one_line_error(project.call("sqlmigrate", "nope"), "no migration 'nope'")
    unreachable = project.call("showmigrations", env={"DATABASE_URL": "postgresql://app:s3cr3t@127.0.0.1:1/app"})
    assert_one_line_error(unreachable, "cannot connect to the database at postgresql+asyncpg://app:***@127.0.0.1:1/app")
    assert "s3cr3t" not in unreachable.stderr


@pytest.mark.parametrize("command", ["migrate", "shell", "dbshell"])
def test_commands_outside_a_project_say_how_to_make_one(tmp_path: Path, command: str) -> None:
    result = subprocess.run([FASTMANGO, command], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert_one_line_error(result, "fastmango init NAME")


@sqlite_only
def test_shell_runs_code_with_the_models_and_top_level_await(project: Project) -> None:
    code = (
        "from sqlalchemy import text\n"
        "async with fastmango.db.get_database().engine.begin() as conn:\n"
        "    await conn.run_sync(Post.metadata.create_all)\n"
        "    await conn.execute(text(\"INSERT INTO post (title) VALUES ('hi')\"))\n"
        "    count = (await conn.execute(text('SELECT count(*) FROM post'))).scalar()\n"
        "print(Post.__name__, count, app.settings is settings)"
    )
    assert project.run("shell", "-c", code).strip() == "Post 1 True"


@sqlite_only
def test_interactive_shell_reads_statements_with_await(project: Project) -> None:
    output = project.run("shell", "--plain", stdin="x = await asyncio.sleep(0, 41)\nx + 1\nPost.__tablename__\n")
    assert "42" in output
    assert "'post'" in output


@sqlite_only
def test_shell_code_that_raises_exits_1_with_its_traceback(project: Project) -> None:
    result = project.call("shell", "-c", "await asyncio.sleep(0)\n1 / 0")
    assert result.returncode == 1
    assert 'File "<shell -c>", line 2' in result.stderr
    assert "ZeroDivisionError" in result.stderr


@sqlite_only
@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="the sqlite3 client is not installed")
def test_dbshell_opens_sqlite3_on_the_project_database(project: Project) -> None:
    assert project.run("dbshell", "--", "SELECT 40 + 2").strip() == "42"
    assert (project.root / "db.sqlite3").is_file()


@pytest.mark.skipif(shutil.which("psql") is None, reason="the psql client is not installed")
def test_dbshell_opens_psql_on_the_project_database(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url: str = request.getfixturevalue("fresh_postgres_url")
    project = Project(init_project(tmp_path), url)
    output = project.run("dbshell", "--", "-At", "-c", "SELECT current_database()")
    assert output.strip() == url.rsplit("/", 1)[1]


@sqlite_only
def test_dbshell_without_the_client_says_how_to_install_it(project: Project, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = project.call("dbshell", env={"PATH": str(empty)})
    assert_one_line_error(result, "Error: sqlite3 is not installed (or not on PATH); install it")


def test_psql_gets_the_password_in_its_environment_not_its_arguments() -> None:
    argv, environment = client_command("postgresql+asyncpg://app:s3cr3t@db.example:5433/shop?ssl=require", [])
    assert argv == ["psql", "postgresql://app@db.example:5433/shop?sslmode=require"]
    assert environment["PGPASSWORD"] == "s3cr3t"
    assert client_command("sqlite+aiosqlite:///./db.sqlite3", ["-line"])[0] == ["sqlite3", "./db.sqlite3", "-line"]


def test_help_lists_the_database_commands() -> None:
    _register_commands()
    output = CliRunner().invoke(app, ["--help"]).output
    for command in ("makemigrations", "migrate", "showmigrations", "sqlmigrate", "shell", "dbshell"):
        assert command in output


FUTURE_MODELS = '''"""Tables of blog, under postponed annotations (ruff's FA/UP rules)."""

from __future__ import annotations

from fastmango.db import Field, Model, Relationship


class Author(Model, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    posts: list[Post] = Relationship(back_populates="author")


class Post(Model, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str
    author_id: int | None = Field(default=None, foreign_key="author.id")
    author: Author | None = Relationship(back_populates="posts")
'''


@sqlite_only
def test_a_project_whose_models_postpone_annotations_migrates_and_queries(project: Project) -> None:
    project.models.write_text(FUTURE_MODELS)
    project.run("migrate")

    made = project.run("makemigrations")
    project.run("migrate")
    code = (
        "ada = await Author.objects.create(name='Ada')\n"
        "await Post.objects.create(title='Notes', author_id=ada.id)\n"
        "[post] = await Post.objects.select_related('author')\n"
        "[author] = await Author.objects.prefetch_related('posts')\n"
        "print(post.author.name, [p.title for p in author.posts])"
    )

    assert "create table author" in made and "create table post" in made
    assert "ForeignKeyConstraint(['author_id'], ['author.id']" in project.revisions()[-1].read_text()
    assert project.run("shell", "-c", code).strip() == "Ada ['Notes']"
