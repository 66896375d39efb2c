"""Budgets: a run (or tool call) is refused once its window's recorded usage reached a cap."""

from __future__ import annotations

import pytest

import fastmango
from fastmango import FastMango
from fastmango.ai import UsageRecord, agent, flush_usage
from fastmango.core.errors import ProblemError
from fastmango.core.settings import AIBudget
from tests.ai.conftest import make_user
from tests.ai.test_metering import scripted, usage  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("usage")


async def test_user_budget_refuses_the_run_that_would_cross_it(app: FastMango) -> None:
    app.settings.ai_budgets = [AIBudget(scope="user", max_tokens=20)]
    ann, bob = await make_user("ann"), await make_user("bob")
    model, calls = scripted("ok", tokens=(10, 5))
    support = agent("support", model=model)
    await support.bind(ann, app=app).run("1")  # 15 tokens
    await support.bind(ann, app=app).run("2")  # 30 tokens: the cap is reached after this run
    with pytest.raises(ProblemError) as refused:
        await support.bind(ann, app=app).run("3")
    assert calls[0] == 2  # refused before the model was called
    problem = refused.value
    assert problem.status == 429 and "user:*/day" in (problem.detail or "")
    assert problem.type == "https://fastmango.dev/problems/ai-budget-exceeded"
    assert int(problem.headers["Retry-After"]) > 0
    resets_at = problem.extensions["resets_at"]  # as every JSON datetime fastmango writes
    assert resets_at.endswith("Z") and f"resets at {resets_at}." in (problem.detail or "")
    await support.bind(bob, app=app).run("other user")  # bob's usage is his own
    assert calls[0] == 3


async def test_agent_budget_counts_flushed_records(app: FastMango) -> None:
    app.settings.ai_budgets = [AIBudget(scope="agent", name="support", window="month", max_calls=1)]
    model, calls = scripted("ok")
    await agent("support", model=model).bind(app=app).run("1")
    await flush_usage()
    assert await UsageRecord.objects.count() == 1
    with pytest.raises(ProblemError, match="agent:support/month"):
        await agent("support", model=model).bind(app=app).run("2")
    await agent("other", model=model).bind(app=app).run("3")  # a budget named for another agent
    assert calls[0] == 2


async def test_tool_budget_fails_the_tool_call(app: FastMango) -> None:
    app.settings.ai_budgets = [AIBudget(scope="tool", name="ping", max_calls=1)]
    runs = []

    @fastmango.tool
    async def ping() -> str:
        """Ping."""
        runs.append(1)
        return "pong"

    for _ in range(2):
        model, _ = scripted(("ping", {}), "done")
        result = await agent("support", tools=["ping"], model=model).bind(app=app).run("go")
        assert result.output == "done"
    assert len(runs) == 1
    failure = str(result.all_messages()[2].parts[0].content)
    assert "budget tool:ping/day is used up" in failure
