"""Problem types: every problem fastmango raises has a documented ``https://fastmango.dev/problems/<slug>`` type."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from fastmango import ProblemError
from fastmango.core.problems import PROBLEM_TYPE_BASE, PROBLEM_TYPES, default_problem_type, problem_type
from tests.api.conftest import build_app, token
from tests.auth.conftest import (
    database_url,  # noqa: F401  (fixture)
    started,
)

ERRORS_DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def documented_types() -> dict[str, int]:
    """``slug -> status`` of the table in docs/errors.md."""
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| (\d{3}) \|", ERRORS_DOC.read_text(), re.MULTILINE)
    return {slug: int(status) for slug, status in rows}


def test_docs_list_every_problem_type_with_its_status() -> None:
    assert documented_types() == {slug: status for slug, (status, _) in PROBLEM_TYPES.items()}


def test_a_status_alone_gets_its_documented_type_and_others_http_status() -> None:
    documented = documented_types()
    for status in (400, 401, 403, 404, 405, 409, 422, 429, 500, 503):
        slug = default_problem_type(status).removeprefix(PROBLEM_TYPE_BASE)
        assert documented[slug] == status
    assert default_problem_type(418) == "https://fastmango.dev/problems/http-418"
    assert ProblemError(404).type is None  # resolved from the status when rendered
    with pytest.raises(ValueError, match="no problem type 'not-fund'"):
        problem_type("not-fund")


def documented(response: httpx.Response, status: int) -> str:
    """The slug of a problem response, checked against docs/errors.md."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].startswith(PROBLEM_TYPE_BASE), body
    slug = str(body["type"]).removeprefix(PROBLEM_TYPE_BASE)
    assert documented_types().get(slug) == status, f"{body['type']} is not documented for {status}"
    return slug


async def test_each_error_response_carries_its_documented_type(database_url: str) -> None:  # noqa: F811
    app = build_app(database_url)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("hunter2")

    async with started(app) as client:
        viewer = await token(client, "viewer", "book.view")
        await client.post("/tags", json={"name": "sf"})
        assert documented(await client.get("/books"), 401) == "not-authenticated"
        assert documented(await client.post("/books", json={"title": "x"}, headers=viewer), 403) == "permission-denied"
        assert documented(await client.get("/books/99", headers=viewer), 404) == "not-found"
        assert documented(await client.get("/no/such/route"), 404) == "not-found"
        assert documented(await client.put("/publishers"), 405) == "method-not-allowed"
        assert documented(await client.post("/tags", json={"name": "sf"}), 409) == "integrity"
        assert documented(await client.get(f"/books/{2**40}", headers=viewer), 422) == "validation-failed"
        assert documented(await client.post("/tags", content=b"{not json"), 422) == "validation-failed"
        assert documented(await client.get("/authors?color=red"), 400) == "bad-query-parameter"
        assert documented(await client.get("/tags?cursor=garbage!"), 400) == "bad-query-parameter"
        assert documented(await client.get("/tags?ordering=name"), 400) == "bad-query-parameter"
        assert documented(await client.get("/boom"), 500) == "internal-error"


async def test_openapi_lists_the_problem_types_and_each_response_its_type(database_url: str) -> None:  # noqa: F811
    async with started(build_app(database_url)) as client:
        schema = (await client.get("/openapi.json")).json()
    problem = schema["components"]["schemas"]["Problem"]["properties"]["type"]
    assert problem["examples"] == [problem_type(slug) for slug in PROBLEM_TYPES]
    responses = schema["paths"]["/books/{pk}"]["get"]["responses"]
    for status, slug in (("401", "not-authenticated"), ("403", "permission-denied"), ("404", "not-found")):
        assert responses[status]["content"]["application/problem+json"]["example"]["type"] == problem_type(slug)
