"""Task queue benchmark: enqueue-to-start latency and jobs per second of a no-op task on arq, one worker.

    .venv/bin/python -m tools.bench.tasks                      # writes tools/bench/TASKS_RESULTS.md
    .venv/bin/python -m tools.bench.tasks --latency-jobs 50 --throughput-jobs 500 --output -   # smoke run

The worker is a separate process (as ``fastmango worker`` runs), built from the same ``ArqBackend`` and
running the same job path (JSON arguments, history records in Redis). Latency is measured one job at a
time on an idle queue, from the moment ``enqueue`` is called to the moment the task function starts; a
random pause between jobs spreads them over the worker's polling cycle. Throughput is the number of jobs
enqueued at once divided by the time until the queue is empty. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from fastmango import Settings, TaskContext, task
from fastmango.core.redis import redis_client
from fastmango.tasks import backends

DEFAULT_REDIS_URL = os.environ.get("FASTMANGO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
DEFAULT_OUTPUT = Path(__file__).with_name("TASKS_RESULTS.md")


@task(name="bench_noop", timeout=60)
async def noop(ctx: TaskContext) -> float:
    """Does nothing but say when it started."""
    return time.time()


async def raw_noop(ctx: dict[str, Any]) -> None:
    """The baseline: an arq function enqueued with arq alone (pickle, no validation, no history)."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench.tasks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="the Redis to use (default: %(default)s)")
    parser.add_argument("--latency-jobs", type=int, default=200, help="jobs per latency run (default: %(default)s)")
    parser.add_argument(
        "--poll-delays",
        default="0.1,0.5",
        help="worker poll delays to measure latency with, in seconds (default: %(default)s; 0.1 is fastmango "
        "worker's default, 0.5 arq's)",
    )
    parser.add_argument(
        "--throughput-jobs", type=int, default=5000, help="jobs per throughput run (default: %(default)s)"
    )
    parser.add_argument(
        "--concurrencies", default="10,50", help="worker concurrencies for throughput (default: %(default)s)"
    )
    parser.add_argument(
        "--output", default=str(DEFAULT_OUTPUT), help="markdown file, or - for stdout only (default: %(default)s)"
    )
    parser.add_argument("--serve-worker", metavar="QUEUE", help=argparse.SUPPRESS)
    parser.add_argument("--poll-delay", type=float, default=0.1, help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=10, help=argparse.SUPPRESS)
    parser.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def settings_for(redis_url: str, queue: str) -> Settings:
    return Settings(redis_url=redis_url, task_queue_name=queue, _env_file=None)  # type: ignore[call-arg]


# The worker process ---------------------------------------------------------------------------------------


async def serve_worker(redis_url: str, queue: str, poll_delay: float, concurrency: int, raw: bool) -> None:
    """Run one worker for the no-op task (or, ``raw``, the plain arq function) until SIGTERM."""
    from arq.worker import Worker

    from fastmango.tasks.arq_backend import ArqBackend, stop_worker

    backend = backends.configure(settings_for(redis_url, queue))
    assert isinstance(backend, ArqBackend)
    if raw:
        worker = Worker(
            [raw_noop],  # type: ignore[list-item]
            queue_name=queue,
            redis_settings=backend.redis_settings,
            poll_delay=poll_delay,
            max_jobs=concurrency,
            keep_result=0,
        )
    else:
        worker = backend.create_worker([noop], poll_delay=poll_delay, concurrency=concurrency, grace=0)
    worker.log_results = False
    try:
        await worker.async_run()
    except asyncio.CancelledError:
        pass
    finally:
        await stop_worker(worker)
        await backend.close()


class WorkerProcess:
    """``python -m tools.bench.tasks --serve-worker``, started and stopped with SIGTERM."""

    def __init__(self, redis_url: str, queue: str, poll_delay: float, concurrency: int, raw: bool = False) -> None:
        command = [sys.executable, "-m", "tools.bench.tasks", "--redis-url", redis_url, "--serve-worker", queue]
        command += ["--poll-delay", str(poll_delay), "--concurrency", str(concurrency)] + (["--raw"] if raw else [])
        env = os.environ | {"FASTMANGO_LOG_LEVEL": "WARNING"}
        self.process = subprocess.Popen(command, env=env, cwd=Path(__file__).parents[2])

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


# Measurements ---------------------------------------------------------------------------------------------


async def warm_up(redis_url: str, queue: str) -> None:
    job = await noop.enqueue()
    await job.result(timeout=30)


async def measure_latency(redis_url: str, poll_delay: float, jobs: int) -> list[float]:
    """Enqueue-to-start latencies in milliseconds, one job at a time."""
    queue = f"bench:{uuid.uuid4().hex[:8]}"
    backend = backends.configure(settings_for(redis_url, queue))
    worker = WorkerProcess(redis_url, queue, poll_delay, concurrency=10)
    try:
        await warm_up(redis_url, queue)
        latencies = []
        for _ in range(jobs):
            await asyncio.sleep(random.uniform(0, poll_delay))
            enqueued = time.time()
            job = await noop.enqueue()
            started = await job.result(timeout=30)
            latencies.append((started - enqueued) * 1000)
        return latencies
    finally:
        worker.stop()
        await backend.close()
        await cleanup(redis_url, queue)


async def measure_throughput(redis_url: str, concurrency: int, jobs: int, raw: bool) -> tuple[float, float]:
    """(jobs/s enqueued by one client, jobs/s run by the worker from first enqueue to empty queue)."""
    from arq.connections import create_pool

    from fastmango.tasks.arq_backend import ArqBackend

    queue = f"bench:{uuid.uuid4().hex[:8]}"
    backend = backends.configure(settings_for(redis_url, queue))
    assert isinstance(backend, ArqBackend)
    worker = WorkerProcess(redis_url, queue, poll_delay=0.1, concurrency=concurrency, raw=raw)
    client = redis_client(redis_url)
    pool = await create_pool(backend.redis_settings, default_queue_name=queue)
    try:
        if raw:
            await pool.enqueue_job("raw_noop")
            while await client.zcard(queue):
                await asyncio.sleep(0.01)
        else:
            await warm_up(redis_url, queue)
        start = time.perf_counter()
        for first in range(0, jobs, 100):
            batch = range(min(100, jobs - first))
            if raw:
                await asyncio.gather(*(pool.enqueue_job("raw_noop") for _ in batch))
            else:
                await asyncio.gather(*(noop.enqueue() for _ in batch))
        enqueued = time.perf_counter()
        while await client.zcard(queue):
            await asyncio.sleep(0.005)
        done = time.perf_counter()
        return jobs / (enqueued - start), jobs / (done - start)
    finally:
        await pool.aclose()
        await client.aclose()
        worker.stop()
        await backend.close()
        await cleanup(redis_url, queue)


async def cleanup(redis_url: str, queue: str) -> None:
    client = redis_client(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{queue}*")]
        ids = {key.rsplit(":job:", 1)[1] for key in keys if ":history:job:" in key}
        ids.update(await client.zrange(queue, 0, -1))  # jobs still queued
        arq_keys = [f"arq:{kind}:{i}" for i in ids for kind in ("job", "result", "in-progress", "retry")]
        for start in range(0, len(keys) + len(arq_keys), 1000):
            chunk = (keys + arq_keys)[start : start + 1000]
            await client.delete(*chunk)
    finally:
        await client.aclose()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def server_version(redis_url: str) -> str:
    client = redis_client(redis_url)
    try:
        info: dict[str, Any] = await client.info("server")
        return str(info.get("redis_version", "?"))
    finally:
        await client.aclose()


# Report ---------------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> str:
    poll_delays = [float(v) for v in args.poll_delays.split(",")]
    concurrencies = [int(v) for v in args.concurrencies.split(",")]
    latency_rows = []
    for poll_delay in poll_delays:
        log(f"latency: {args.latency_jobs} jobs, poll delay {poll_delay} s")
        values = await measure_latency(args.redis_url, poll_delay, args.latency_jobs)
        latency_rows.append(
            f"| {poll_delay:g} s | {statistics.median(values):.1f} | {percentile(values, 0.95):.1f} | "
            f"{min(values):.1f} | {max(values):.1f} |"
        )
    throughput_rows = []
    for concurrency in concurrencies:
        rates = []
        for raw in (False, True):
            log(f"throughput: {args.throughput_jobs} jobs, concurrency {concurrency}{' (arq alone)' if raw else ''}")
            rates.append(await measure_throughput(args.redis_url, concurrency, args.throughput_jobs, raw))
        (enqueue_rate, run_rate), (raw_enqueue_rate, raw_run_rate) = rates
        throughput_rows.append(
            f"| {concurrency} | {run_rate:,.0f} | {enqueue_rate:,.0f} | {raw_run_rate:,.0f} | {raw_enqueue_rate:,.0f} |"
        )
    redis_version = await server_version(args.redis_url)
    cpu = platform.processor() or platform.machine()
    return "\n".join(
        [
            "## Task queue benchmark (arq, one worker)",
            "",
            "A no-op task (`@fastmango.task async def noop(ctx) -> float: return time.time()`) on the arq backend, "
            "with one worker in its own process and the client in another, both on this machine. Every job takes "
            "fastmango's full path: arguments validated and sent as JSON, the history record written at "
            "enqueue (one pipelined transaction), start (one `SET ... GET`) and end (one `SET`), besides arq's "
            "own Redis commands.",
            "",
            f"Python {platform.python_version()}, arq {version('arq')}, redis-py {version('redis')}, "
            f"Redis {redis_version}, {os.cpu_count()} CPU(s) ({cpu}).",
            "",
            "Reproduce: `.venv/bin/python -m tools.bench.tasks` (writes this file).",
            "",
            f"### Enqueue-to-start latency ({args.latency_jobs} jobs, one at a time, idle queue)",
            "",
            "From the call to `enqueue()` to the first line of the task function, in milliseconds. The worker "
            "looks at the queue every *poll delay* (`fastmango worker --poll-delay`), so a job waits half of it "
            "on average; a random pause between jobs spreads them over the polling cycle.",
            "",
            "| poll delay | p50 ms | p95 ms | min ms | max ms |",
            "|---:|---:|---:|---:|---:|",
            *latency_rows,
            "",
            f"### Throughput ({args.throughput_jobs:,} jobs enqueued at once)",
            "",
            "Jobs per second run by the one worker, from the first `enqueue()` to an empty queue (poll delay "
            "0.1 s; *concurrency* is `--concurrency`, arq's `max_jobs`), and jobs per second one client enqueues "
            "(100 concurrent `enqueue()` calls at a time). *arq alone* is the floor: an arq function enqueued with "
            "`ArqRedis.enqueue_job` (pickle, no argument validation, no history), results not kept.",
            "",
            "| concurrency | fastmango jobs/s run | fastmango jobs/s enqueued | arq alone run | arq alone enqueued |",
            "|---:|---:|---:|---:|---:|",
            *throughput_rows,
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.serve_worker:
        asyncio.run(serve_worker(args.redis_url, args.serve_worker, args.poll_delay, args.concurrency, args.raw))
        return
    markdown = asyncio.run(run(args))
    print(markdown)
    if args.output != "-":
        Path(args.output).write_text(markdown, encoding="utf-8")
        log(f"wrote {args.output}")


if __name__ == "__main__":
    main()
