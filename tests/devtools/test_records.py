"""Per-request records: every statement (whichever route ran it) with the user code that ran it, the log lines, the
jobs queued and their own records, AI calls with each permission decision; N+1 warnings naming the fix."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import Request
from pydantic_ai.models.test import TestModel

import fastmango
from fastmango import FastMango
from fastmango.ai import agent, registry
from fastmango.ai.agents import _agents
from fastmango.tasks import TaskContext, task
from fastmango.testing import TooManyQueries, assert_max_queries, assert_no_n_plus_one, capture_queries
from tests.auth.conftest import PASSWORD
from tests.db.models import Author, Book
from tests.devtools import conftest
from tests.devtools.conftest import staff_headers

logger = logging.getLogger("tests.devtools")


@task
async def count_books(ctx: TaskContext) -> int:
    return await Book.objects.count()


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    tools, declared = dict(registry._tools), dict(_agents)
    yield
    registry._tools.clear()
    registry._tools.update(tools)
    _agents.clear()
    _agents.update(declared)


async def record_of(client: httpx.AsyncClient, response: httpx.Response, headers: dict[str, str]) -> dict[str, Any]:
    found = await client.get(f"/_debug/api/records/{response.headers['x-debug-record']}", headers=headers)
    assert found.status_code == 200, found.text
    return dict(found.json())


async def test_every_statement_of_a_crud_request_is_in_its_record(client: httpx.AsyncClient) -> None:
    headers = await staff_headers(client)
    with capture_queries() as queries:
        response = await client.get("/books", params={"ordering": "-id", "search": "book"}, headers=headers)
    assert response.status_code == 200, response.text
    record = await record_of(client, response, headers)
    assert [query["sql"] for query in record["queries"]] == [event.sql for event in queries.events]
    assert len(record["queries"]) >= 2  # the user's permissions, the page (and its count)
    assert (record["kind"], record["name"], record["status"], record["user"]) == ("request", "GET /books", 200, "devsg")
    assert record["request_id"] == response.headers["x-request-id"]
    assert record["meta"]["route"] == "/books" and record["meta"]["query"] == "ordering=-id&search=book"
    assert record["meta"]["headers"]["authorization"] == "***"


async def test_a_statement_names_the_line_of_user_code_that_ran_it(client: httpx.AsyncClient) -> None:
    headers = await staff_headers(client)
    record = await record_of(client, await client.get("/n-plus-one", headers=headers), headers)
    source = Path(conftest.__file__).read_text().splitlines()
    line = next(number for number, text in enumerate(source, 1) if "await Author.objects.get(pk=" in text)
    sites = {query["site"] for query in record["queries"] if query["model"] == "Author"}
    assert sites == {f"{conftest.__file__}:{line} in n_plus_one"}


async def test_a_query_per_row_is_one_warning_naming_the_relation_and_the_fix(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    headers = await staff_headers(client)
    with caplog.at_level(logging.WARNING, logger="fastmango.devtools"):
        record = await record_of(client, await client.get("/n-plus-one", headers=headers), headers)
    [warning] = record["warnings"]
    assert (warning["count"], warning["model"], warning["relation"]) == (4, "Author", "Book.author")
    assert 'Book.objects.select_related("author")' in warning["fix"]
    [logged] = [r.getMessage() for r in caplog.records if r.name == "fastmango.devtools"]
    assert "GET /n-plus-one" in logged and 'select_related("author")' in logged


async def test_counting_children_one_parent_at_a_time_names_annotate(client: httpx.AsyncClient) -> None:
    headers = await staff_headers(client)
    record = await record_of(client, await client.get("/books-of-each-author", headers=headers), headers)
    [warning] = record["warnings"]
    assert warning["relation"] == "Author.books" and 'annotate(books_count=Count("books"))' in warning["fix"]


async def test_a_request_without_repeated_queries_has_no_warning(client: httpx.AsyncClient) -> None:
    headers = await staff_headers(client)
    record = await record_of(client, await client.get("/books", headers=headers), headers)
    assert record["warnings"] == []


async def test_the_strict_mode_and_assert_max_queries_fail_on_the_n_plus_one(client: httpx.AsyncClient) -> None:
    async def n_plus_one() -> None:
        for book in await Book.objects.all():
            await Author.objects.get(pk=book.author_id)

    n_plus_one_detected = r'N\+1: 4 similar queries at .*Book.objects.select_related\("author"\)'
    with pytest.raises(AssertionError, match=n_plus_one_detected), assert_no_n_plus_one():
        await n_plus_one()
    with pytest.raises(TooManyQueries, match=r'Book.objects.select_related\("author"\)'), assert_max_queries(2):
        await n_plus_one()
    with assert_no_n_plus_one():  # the fix passes
        books = await Book.objects.select_related("author")
    assert sorted(book.author.name for book in books) == ["Ann", "Ann", "Bob", "Cy"]


async def test_log_lines_of_the_request_are_in_its_record(app: FastMango, client: httpx.AsyncClient) -> None:
    @app.get("/logs")
    async def logs() -> dict[str, bool]:
        logger.warning("stock of %s is low", "paper")
        return {"ok": True}

    headers = await staff_headers(client)
    record = await record_of(client, await client.get("/logs", headers=headers), headers)
    assert {"level": "WARNING", "logger": "tests.devtools", "message": "stock of paper is low"}.items() <= next(
        line for line in record["logs"] if line["logger"] == "tests.devtools"
    ).items()


async def test_a_job_queued_by_a_request_has_a_record_linked_to_it(app: FastMango, client: httpx.AsyncClient) -> None:
    @app.post("/count")
    async def count() -> dict[str, Any]:
        job = await count_books.enqueue()
        return {"job": job.id, "result": await job.result(timeout=5)}

    headers = await staff_headers(client)
    response = await client.post("/count", headers=headers)
    assert response.json()["result"] == 4
    request_record = await record_of(client, response, headers)
    assert request_record["tasks"][0]["task"] == count_books.name
    assert request_record["tasks"][0]["job_id"] == response.json()["job"]
    [job] = [linked for linked in request_record["linked"] if linked["kind"] == "job"]
    job_record = (await client.get(f"/_debug/api/records/{job['id']}", headers=headers)).json()
    assert (job_record["status"], job_record["meta"]["job_id"]) == ("ok", response.json()["job"])
    assert any("count(*)" in query["sql"].lower() for query in job_record["queries"])
    assert job_record["request_id"] == request_record["request_id"]


async def test_an_agent_run_records_model_requests_tool_calls_and_permission_decisions(
    app: FastMango, client: httpx.AsyncClient
) -> None:
    @fastmango.tool
    async def book_titles() -> list[str]:
        """The titles of every book."""
        return [book.title for book in await Book.objects.order_by("id")]

    @fastmango.tool(permissions=["book.delete"])
    async def burn_books() -> int:
        """Delete every book."""
        return await Book.objects.all().delete()

    librarian = agent("librarian", tools=["book_titles", "burn_books"], model=TestModel(call_tools=["book_titles"]))

    @app.get("/ask")
    async def ask(request: Request) -> dict[str, str]:
        result = await librarian.run("What is there?", user=request.state.user, request=request)
        return {"answer": str(result.output)}

    headers = await staff_headers(client)
    response = await client.get("/ask", headers=headers)
    assert response.status_code == 200, response.text
    request_record = await record_of(client, response, headers)
    [run] = [linked for linked in request_record["linked"] if linked["kind"] == "agent"]
    run_record = (await client.get(f"/_debug/api/records/{run['id']}", headers=headers)).json()
    assert (run_record["name"], run_record["parent"]) == ("librarian", request_record["id"])
    kinds = [(entry["kind"], entry["name"]) for entry in run_record["ai"]]
    assert ("model_request", "test") in kinds and ("tool_call", "book_titles") in kinds
    decisions = {entry["name"]: entry for entry in run_record["ai"] if entry["kind"] == "permission"}
    assert decisions["book_titles"]["allowed"] is True
    # The tool the user may not use was hidden from the model, and the record says why.
    assert decisions["burn_books"]["allowed"] is False
    assert decisions["burn_books"]["detail"] == "denied for devsg: needs book.delete"
    assert any("FROM book" in query["sql"] for query in run_record["queries"])
    # The request's record holds what its agent run did too.
    assert [entry["kind"] for entry in request_record["ai"]] == [entry["kind"] for entry in run_record["ai"]]


async def test_a_failing_request_is_recorded_with_its_error(app: FastMango, client: httpx.AsyncClient) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("the flux capacitor broke")

    headers = await staff_headers(client)
    response = await client.get("/boom", headers=headers)
    assert response.status_code == 500
    records = (await client.get("/_debug/api/records", headers=headers)).json()
    [record] = [summary for summary in records if summary["name"] == "GET /boom"]
    full = (await client.get(f"/_debug/api/records/{record['id']}", headers=headers)).json()
    assert full["status"] == 500 and full["meta"]["error"] == "RuntimeError: the flux capacitor broke"


async def test_a_login_leaves_neither_the_password_nor_the_token_in_its_record(client: httpx.AsyncClient) -> None:
    headers = await staff_headers(client)
    response = await client.post("/auth/token", data={"username": "devsg", "password": PASSWORD})
    token = response.json()["access_token"]
    record = await record_of(client, response, headers)
    stored = orjson.dumps(record).decode()
    assert PASSWORD not in stored and token not in stored and headers["Authorization"].split()[1] not in stored
    assert record["queries"], "the login's statements are recorded"


async def test_the_panel_does_not_record_itself(client: httpx.AsyncClient) -> None:
    headers = await staff_headers(client)
    await client.get("/books", headers=headers)
    names = [summary["name"] for summary in (await client.get("/_debug/api/records", headers=headers)).json()]
    assert "GET /books" in names and not any("/_debug" in name for name in names)
