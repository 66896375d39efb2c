"""AI layer benchmark: what fastmango's tool layer and metering add to a Pydantic AI run, and cache hit latency.

    .venv/bin/python -m tools.bench.ai                        # writes tools/bench/AI_RESULTS.md
    .venv/bin/python -m tools.bench.ai --runs 50 --output -   # smoke run

Every run uses a ``FunctionModel`` (no network): it asks for ``--calls`` calls of a trivial ``add`` tool in one
response, then answers. Four set-ups run the same script:

- plain: a ``pydantic_ai.Agent`` with the tool in a ``FunctionToolset``, no capability (the floor);
- fastmango, metering off: the tool registered with ``@fastmango.tool``, run through the registry's toolset and the
  fastmango capability (permission check, tool call limit), ``ai_metering=False``;
- fastmango, metering on: the same, recording one usage row per model request and per tool call (rows are buffered;
  the database write is off the request path and not measured here).

Per tool call is ``(median run with N calls - median run with 0 calls) / N``. Cache hits are measured as a whole run
answered from the response cache (memory, then Redis when reachable) against the same run with no cache, and as the
cache lookup alone (key, GET, decode). Medians of ``--runs`` runs after a warm-up. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pydantic_ai import Agent, FunctionToolset
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from fastmango.ai import registry
from fastmango.ai.agents import AgentSpec
from fastmango.ai.context import AgentDeps
from fastmango.ai.functions import tool
from fastmango.ai.metering import meter
from fastmango.core.settings import Settings

DEFAULT_REDIS_URL = os.environ.get("FASTMANGO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
DEFAULT_OUTPUT = Path(__file__).with_name("AI_RESULTS.md")
PROMPT = "Add the numbers."


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def script(calls: int) -> FunctionModel:
    """A model asking for ``calls`` tool calls at once, then answering."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if calls and not any(isinstance(p, ToolReturnPart) for p in messages[-1].parts):
            return ModelResponse(
                parts=[ToolCallPart("add", {"a": i, "b": 1}, tool_call_id=f"c{i}") for i in range(calls)]
            )
        return ModelResponse(parts=[TextPart("done")])

    return FunctionModel(respond, model_name="bench")


def plain_agent(calls: int) -> Callable[[], Awaitable[Any]]:
    agent = Agent(script(calls), toolsets=[FunctionToolset([add])])
    return lambda: agent.run(PROMPT)


def fastmango_agent(calls: int, settings: Settings, cache_ttl: float | None = 0) -> Callable[[], Awaitable[Any]]:
    spec = AgentSpec(f"bench{calls}", None, ("add",), script(calls), cache_ttl=cache_ttl, shared=True)
    agent = spec.build(settings)
    deps = AgentDeps()
    return lambda: agent.run(PROMPT, deps=deps)


async def median_us(run: Callable[[], Awaitable[Any]], runs: int, warmup: int = 20) -> float:
    for _ in range(warmup):
        await run()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await run()
        times.append((time.perf_counter() - started) * 1e6)
    return statistics.median(times)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def tool_overhead(runs: int, calls: int) -> dict[str, dict[int, float]]:
    """Median microseconds per run for each set-up, with 0 and ``calls`` tool calls (set-ups interleaved)."""
    off = Settings(ai_metering=False, ai_cache_ttl=0)
    on = Settings(ai_metering=True, ai_cache_ttl=0, ai_usage_flush_records=10**9, ai_usage_flush_seconds=10**9)
    meter.configure(on)
    setups: dict[str, Callable[[int], Callable[[], Awaitable[Any]]]] = {
        "plain Pydantic AI": plain_agent,
        "fastmango, metering off": lambda n: fastmango_agent(n, off),
        "fastmango, metering on": lambda n: fastmango_agent(n, on),
    }
    runners = {(label, n): factory(n) for label, factory in setups.items() for n in (0, calls)}
    samples: dict[tuple[str, int], list[float]] = {key: [] for key in runners}
    for round_ in range(runs + 20):  # the first 20 rounds warm up
        for key, run in runners.items():
            # The capability checks meter.enabled per record; the flag follows the set-up being timed.
            meter.enabled = key[0] != "fastmango, metering off"
            started = time.perf_counter()
            await run()
            if round_ >= 20:
                samples[key].append((time.perf_counter() - started) * 1e6)
        meter.buffer.clear()  # rows are written off the request path; keep the buffer from growing
    results: dict[str, dict[int, float]] = {label: {} for label in setups}
    for (label, n), values in samples.items():
        results[label][n] = statistics.median(values)
        log(f"{label}, {n} calls: {results[label][n]:,.0f} us")
    return results


async def cache_hits(runs: int, redis_url: str | None) -> dict[str, tuple[float, float, float]]:
    """Backend -> median us of (a run answered from the cache, the same run with no cache, GET + decode alone)."""
    from fastmango.ai import response_cache

    meter.enabled = False
    backends: list[tuple[str, str | None]] = [("memory", None)]
    if redis_url:
        backends.append(("Redis", redis_url))
    results: dict[str, tuple[float, float, float]] = {}
    for label, url in backends:
        settings = Settings(ai_metering=False, ai_cache_ttl=300, redis_url=url)
        store = response_cache.cache_store(settings)
        try:
            await store.clear()
        except Exception as exc:  # Redis not reachable
            log(f"skipping {label}: {exc}")
            continue
        hit, miss = fastmango_agent(0, settings, cache_ttl=300), fastmango_agent(0, settings, cache_ttl=0)
        await hit()  # fills the cache
        key = next(iter(await _keys(store)))

        async def lookup(key: str = key, store: Any = store) -> Any:
            return response_cache.load_response(await store.get(key))

        samples: dict[str, list[float]] = {"hit": [], "miss": [], "lookup": []}
        for round_ in range(runs + 20):
            for name, run in (("hit", hit), ("miss", miss), ("lookup", lookup)):
                started = time.perf_counter()
                await run()
                if round_ >= 20:
                    samples[name].append((time.perf_counter() - started) * 1e6)
        hit_us, miss_us, lookup_us = (statistics.median(samples[name]) for name in ("hit", "miss", "lookup"))
        results[label] = (hit_us, miss_us, lookup_us)
        log(f"cache hit, {label}: run {hit_us:,.0f} us (no cache {miss_us:,.0f} us), GET+decode {lookup_us:,.0f} us")
        await store.clear()
    return results


async def _keys(store: Any) -> list[str]:
    if hasattr(store, "_items"):
        return list(store._items)
    return [key async for key in store._redis().scan_iter(match="fastmango:ai:cache:*")]


def report(
    tools: dict[str, dict[int, float]], calls: int, hits: dict[str, tuple[float, float, float]], runs: int
) -> str:
    plain = tools["plain Pydantic AI"]
    per_call_plain = (plain[calls] - plain[0]) / calls
    lines = [
        "# AI layer benchmark",
        "",
        f"Python {platform.python_version()}, pydantic-ai {version('pydantic-ai-slim')}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs. Medians of {runs} runs with a `FunctionModel` (no network). "
        "Regenerate with `.venv/bin/python -m tools.bench.ai`.",
        "",
        f"## Tool layer and metering ({calls} tool calls per run)",
        "",
        f"| set-up | run, 0 calls (us) | run, {calls} calls (us) | per tool call (us) | added per run (us) "
        "| added per tool call (us) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, timing in tools.items():
        per_call = (timing[calls] - timing[0]) / calls
        lines.append(
            f"| {label} | {timing[0]:,.0f} | {timing[calls]:,.0f} | {per_call:,.1f} | {timing[0] - plain[0]:,.0f} "
            f"| {per_call - per_call_plain:,.1f} |"
        )
    worst = max((t[calls] - t[0]) / calls - per_call_plain for t in tools.values())
    lines += [
        "",
        f"Goal: under 1 ms added per tool call. Measured: {worst:,.1f} us at most "
        f"({'met' if worst < 1000 else 'NOT met'}).",
        "",
        "## Response cache hits",
        "",
        'The model here is a free `FunctionModel`, so "added" is the whole cost of a hit: the key (hashing the '
        "request), the GET, decoding the response and the capability around it. A real model request costs "
        "hundreds of milliseconds.",
        "",
        "| backend | run answered from the cache (us) | same run, no cache (us) | added by the hit (us) "
        "| GET + decode alone (us) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, (hit, miss, lookup) in hits.items():
        lines.append(f"| {label} | {hit:,.0f} | {miss:,.0f} | {hit - miss:,.0f} | {lookup:,.0f} |")
    if "Redis" in hits:
        hit, miss, lookup = hits["Redis"]
        lines += [
            "",
            f"Goal: under 2 ms per cache hit from Redis. Measured: GET + decode {lookup / 1000:,.2f} ms; a whole run "
            f"answered from Redis {hit / 1000:,.2f} ms against {miss / 1000:,.2f} ms with a zero-latency model "
            f'({"met" if lookup < 2000 and hit - miss < 2000 else "NOT met"}). A negative "added" means a hit costs '
            "less than even a free `FunctionModel` request (which estimates token usage).",
        ]
    else:
        lines += ["", "Redis was not reachable: the Redis cache hit was not measured."]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.ai", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="measured runs per figure (default: %(default)s)")
    parser.add_argument("--calls", type=int, default=10, help="tool calls per run (default: %(default)s)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="'' to skip Redis (default: %(default)s)")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT), help="markdown file, or - for stdout")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    saved = dict(registry._tools)
    tool(add)

    async def measure() -> str:
        tools = await tool_overhead(args.runs, args.calls)
        hits = await cache_hits(args.runs, args.redis_url or None)
        return report(tools, args.calls, hits, args.runs)

    try:
        text = asyncio.run(measure())
    finally:
        registry._tools.clear()
        registry._tools.update(saved)
    if args.output == "-":
        print(text, end="")
    else:
        Path(args.output).write_text(text)
        log(f"wrote {args.output}")


if __name__ == "__main__":
    main()
