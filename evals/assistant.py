"""Evals of the blog's ``assistant`` agent: right tool, right arguments, answers within the asker's permissions.

    fastmango ai eval evals/assistant.py                 # offline: a scripted model (checks the tool layer)
    fastmango ai eval evals/assistant.py --model smart   # a real LLM from settings.ai_models (checks the model)

Offline, the model is :func:`offline_model`, a keyword-routing ``FunctionModel``: it can only call the tools the
asker is offered and answers from what they return, so the cases check fastmango's side (which tools each user
sees, what they return, that refusals stay refusals). With ``--model`` the same cases grade a real model's choices.
Cases run against the project's database, seeded with ``blog.seed`` (the ``demo`` user may view drafts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_evals import Case, Dataset

from evals.runner import AgentRun, AnswerMentions, ToolArguments, UsedTool, captured

DRAFT = "COBOL, a draft"


@dataclass
class Question:
    """A case's input: what is asked, and by whom (None: anonymous)."""

    question: str
    user: str | None = None


async def setup() -> None:
    """Seed the blog's demo data (idempotent)."""
    from blog.seed import seed

    await seed()


async def task(inputs: Question, model: Any = None) -> AgentRun:
    """Ask the assistant as ``inputs.user`` with ``model`` (None: :func:`offline_model`)."""
    from fastmango.ai import get_agent
    from fastmango.auth import User

    user = await User.objects.filter(username=inputs.user).first() if inputs.user else None
    result = await get_agent("assistant").run(inputs.question, user=user, model=model or offline_model())
    return captured(result.output, result.all_messages())


def offline_model() -> FunctionModel:
    """A scripted stand-in for an LLM: routes the question to an offered tool, then answers from its result."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        last = messages[-1]
        if isinstance(last, ModelRequest) and any(isinstance(p, ToolReturnPart) for p in last.parts):
            return ModelResponse(parts=[TextPart(_answer(last))])
        if isinstance(last, ModelRequest) and any(p.part_kind == "retry-prompt" for p in last.parts):
            return ModelResponse(parts=[TextPart("You may not see that.")])
        question = next(p.content for m in reversed(messages) for p in m.parts if p.part_kind == "user-prompt")
        offered = {tool.name for tool in info.function_tools}
        text = str(question).lower()
        if "draft" in text:
            if "drafts" in offered:
                return _call("drafts", {})
            return ModelResponse(parts=[TextPart("You may not see unpublished posts.")])
        number = re.search(r"post (?:number |#)?(\d+)", text)
        if number and "post_get" in offered:
            return _call("post_get", {"pk": int(number.group(1))})
        quoted = re.search(r"[\"“']([^\"”']+)[\"”']", str(question))
        words = re.findall(r"[a-z]+", text)
        query = quoted.group(1) if quoted else (words[-1] if words else text)
        return _call("search_posts", {"query": query})

    return FunctionModel(respond, model_name="offline-assistant")


def _call(tool: str, args: dict[str, Any]) -> ModelResponse:
    return ModelResponse(parts=[ToolCallPart(tool, args, tool_call_id=f"{tool}-1")])


def _answer(request: ModelRequest) -> str:
    titles: list[str] = []
    for part in request.parts:
        if not isinstance(part, ToolReturnPart):
            continue
        content = part.content
        rows = content.get("items", content.get("results", [content])) if isinstance(content, dict) else content
        if isinstance(rows, list):
            titles += [str(row["title"]) for row in rows if isinstance(row, dict) and "title" in row]
        elif isinstance(content, str):
            return content
    return "Posts: " + "; ".join(titles) if titles else "I found no such posts."


tool_choice = Dataset[Question, AgentRun, Any](
    name="assistant: tool choice and arguments",
    cases=[
        Case(
            name="search by topic",
            inputs=Question('Which posts talk about "Bernoulli"?'),
            evaluators=(
                UsedTool("search_posts"),
                ToolArguments("search_posts", {"query": "Bernoulli"}),
                AnswerMentions("Bernoulli numbers"),
            ),
        ),
        Case(
            name="search by a word",
            inputs=Question("Anything about the moth?"),
            evaluators=(
                UsedTool("search_posts"),
                ToolArguments("search_posts", {"query": "moth"}),
                AnswerMentions("The moth in the relay"),
            ),
        ),
        Case(
            name="one post by number",
            inputs=Question("Show me post 1", user="demo"),
            evaluators=(UsedTool("post_get"), ToolArguments("post_get", {"pk": 1})),
        ),
    ],
)

permissions = Dataset[Question, AgentRun, Any](
    name="assistant: permissions",
    cases=[
        Case(
            name="anonymous asks for drafts",
            inputs=Question("What drafts are there?"),
            evaluators=(UsedTool("drafts", called=False), AnswerMentions(DRAFT, present=False)),
        ),
        Case(
            name="anonymous searches a draft's title",
            inputs=Question('Find "COBOL"'),
            evaluators=(UsedTool("search_posts"), AnswerMentions(DRAFT, present=False)),
        ),
        Case(
            name="demo (post.view) asks for drafts",
            inputs=Question("What drafts are there?", user="demo"),
            evaluators=(UsedTool("drafts"), AnswerMentions(DRAFT)),
        ),
    ],
)
