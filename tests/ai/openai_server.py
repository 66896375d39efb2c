"""A local OpenAI-compatible HTTP server for tests: answers /v1/chat/completions from a script."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def completion(message: dict[str, Any], finish_reason: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "local-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


def tool_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A scripted answer that calls one tool."""
    call = {"id": f"call_{name}", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
    return completion({"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls")


def text(content: str) -> dict[str, Any]:
    """A scripted final answer."""
    return completion({"role": "assistant", "content": content}, "stop")


Reply = dict[str, Any] | tuple[int, dict[str, Any]] | Callable[[dict[str, Any]], dict[str, Any]]


class ScriptedServer:
    """Serves ``replies`` in order (the last one repeats); records every request body and header. A callable reply
    is called with the request body (an answer that reads the tool results it was sent)."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = replies
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.app = Starlette(routes=[Route("/v1/chat/completions", self.complete, methods=["POST"])])

    async def complete(self, request: Request) -> JSONResponse:
        self.requests.append(await request.json())
        self.headers.append(dict(request.headers))
        reply = self.replies[min(len(self.requests) - 1, len(self.replies) - 1)]
        if callable(reply):
            reply = reply(self.requests[-1])
        status, body = reply if isinstance(reply, tuple) else (200, reply)
        return JSONResponse(body, status_code=status)


@contextmanager
def serve(server: ScriptedServer) -> Iterator[str]:
    """Run ``server`` on a free loopback port in a thread; yields its base URL (``.../v1``)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(server.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        instance.should_exit = True
        thread.join(timeout=10)
