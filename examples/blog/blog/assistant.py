"""Endpoints of the assistant: ask a question, or stream the answer as server-sent events."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sse_starlette.sse import EventSourceResponse

from fastmango.ai import BoundAgent, use_agent

router = APIRouter(prefix="/assistant", tags=["assistant"])


class Answer(BaseModel):
    answer: Any


@router.post("/ask", operation_id="assistant_ask")
async def ask(
    question: Annotated[str, Query(min_length=1, max_length=2000)],
    assistant: Annotated[BoundAgent, Depends(use_agent("assistant"))],
) -> Answer:
    """Ask the assistant; it uses the blog's tools with your permissions (anonymous: public posts only)."""
    result = await assistant.run(question)
    return Answer(answer=result.output)


@router.get(
    "/stream",
    operation_id="assistant_stream",
    response_class=EventSourceResponse,
    responses={200: {"description": "Server-sent events.", "content": {"text/event-stream": {"schema": {}}}}},
)
async def stream(
    question: Annotated[str, Query(min_length=1, max_length=2000)],
    assistant: Annotated[BoundAgent, Depends(use_agent("assistant"))],
) -> Any:
    """The same, as server-sent events: text deltas, tool calls and results, then the output."""
    return assistant.stream(question)
