"""``--profile ENDPOINTS``: where an app's server spends its CPU under wrk's load, sampled with py-spy.

py-spy samples the running server (non-blocking, from the other CPU) while wrk loads one endpoint; only
samples in which the server's thread was running Python count (idle waits in the event loop are left out),
so shares are of the server's busy time. Printed per app and endpoint: the share by library (the
innermost frame's package) and the functions with the largest inclusive and self shares.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from tools.bench.http import harness
from tools.bench.http.load import ENDPOINTS, Wrk
from tools.bench.http.servers import CLIENT_CPU, select_apps

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
TOP = 25


def py_spy(python: str) -> str:
    """The py-spy executable next to ``python`` (installed by requirements-bench.txt), or on PATH."""
    candidate = Path(python).parent / "py-spy"
    found = str(candidate) if candidate.exists() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("py-spy is not installed: pip install py-spy (it is in tools/bench/requirements-bench.txt)")
    return found


def component(function: str, file: str) -> str:
    """Where a frame's code belongs: a package (``sqlalchemy``), a fastmango layer (``fastmango/db``), a stdlib
    module (``stdlib:asyncio``), or the C event loop (uvloop and httptools, seen as ``Runner.run``'s own time).

    py-spy names files relative to their ``sys.path`` entry (``sqlalchemy/orm/session.py``).
    """
    if function == "Runner.run":
        return "event loop in C (uvloop, httptools, asyncpg's protocol)"
    if file.startswith("<frozen"):
        return "stdlib:" + file.strip("<>").split()[-1]
    parts = file.split("/")
    top = parts[0].removesuffix(".py")
    if top == "fastmango" and len(parts) > 2:
        return f"fastmango/{parts[1]}"
    if top == "tools":
        return "bench app"
    if top in sys.stdlib_module_names:
        return f"stdlib:{top}"
    return top or "?"


def parse(raw: str) -> list[tuple[list[tuple[str, str]], int]]:
    """py-spy's raw (collapsed) stacks: ``[(frames outermost first as (function, file:line)), count)]``."""
    stacks = []
    for line in raw.splitlines():
        text, _, count = line.rpartition(" ")
        if not text or not count.isdigit():
            continue
        frames = []
        for part in text.split(";"):
            match = FRAME.match(part)
            if match is None:
                frames.append((part, ""))
            else:
                where = match["file"] + (f":{match['line']}" if match["line"] else "")
                frames.append((match["function"], where))
        stacks.append((frames, int(count)))
    return stacks


#: Frames on every stack of a uvicorn process (its start-up chain), left out of the inclusive table.
BOILERPLATE = ("<frozen runpy>", "click/", "uvicorn/main", "uvicorn/server", "uvicorn/_compat", "uvicorn/__main__")
#: Code on the way to the database: any such frame puts a sample in the database path.
DATABASE_PATH = ("fastmango/db", "sqlalchemy", "asyncpg")


def summarize(stacks: list[tuple[list[tuple[str, str]], int]], title: str) -> list[str]:
    """Markdown: share by library, the database path's share, top inclusive and self functions.

    SQLAlchemy runs its sync core in greenlets, whose stacks py-spy reports from the greenlet's own first
    frame (``Session.execute``...), so inclusive shares of async callers undercount; the by-library and
    database-path shares do not.
    """
    total = sum(count for _, count in stacks) or 1
    by_component: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    database = 0
    for frames, count in stacks:
        if not frames:
            continue
        leaf_function, leaf_where = frames[-1]
        by_component[component(leaf_function, leaf_where.rsplit(":", 1)[0])] += count
        own[_name(leaf_function, leaf_where)] += count
        components = {component(function, where.rsplit(":", 1)[0]) for function, where in frames}
        if components & set(DATABASE_PATH) or any("CRUDRouter.read_" in function for function, _ in frames):
            database += count
        for name in {_name(f, w) for f, w in frames if not w.startswith(BOILERPLATE) and f != "Runner.run"}:
            inclusive[name] += count
    lines = [f"#### {title}", "", f"{total:,} samples of the server's busy time.", ""]
    lines += [
        f"Database path (a frame in fastmango/db, SQLAlchemy or asyncpg, or in CRUDRouter.read_*): "
        f"**{database / total:.1%}** of the samples.",
        "",
    ]
    lines += ["| code running (innermost frame) | share |", "|---|---:|"]
    lines += [f"| {name} | {count / total:.1%} |" for name, count in by_component.most_common(14)]
    lines += ["", "| function (inclusive) | share |", "|---|---:|"]
    lines += [f"| `{name}` | {count / total:.1%} |" for name, count in inclusive.most_common(TOP)]
    lines += ["", "| function (self) | share |", "|---|---:|"]
    lines += [f"| `{name}` | {count / total:.1%} |" for name, count in own.most_common(TOP)]
    return [*lines, ""]


def _name(function: str, where: str) -> str:
    return f"{function} ({where.rpartition(':')[0] or where})"


def main(args: argparse.Namespace, python: str, pinned: bool, log: harness.Log) -> int:
    """Profile ``args.profile_apps`` on ``args.profile`` endpoints; print the markdown (and write --output)."""
    spy = py_spy(python)
    endpoints = [e for e in ENDPOINTS if e.key in args.profile]
    apps = select_apps(args.profile_apps)
    results = harness.Results()
    plan = harness.Plan(
        apps=apps,
        endpoints=endpoints,
        rounds=1,
        duration=args.profile_seconds,
        warmup=2,
        startup_samples=0,
        pin=pinned,
        python=python,
        server_url=args.postgres_url,
        log_dir=args.logs,
    )
    lines = ["## Profiles under load (py-spy)", "", (__doc__ or "").split("\n\n")[1].replace("\n", " "), ""]
    folder = args.logs if args.logs is not None else Path(tempfile.mkdtemp(prefix="fm_bench_profile_"))
    folder.mkdir(parents=True, exist_ok=True)
    wrk = Wrk(pin=pinned)
    try:
        with harness.bench_database(plan.server_url, results, log) as url:
            for app in apps:
                for endpoint in endpoints:
                    with harness._server(plan, app, url) as server:
                        server.wait_ready()
                        wrk.run(server.port, endpoint, 2)
                        if pinned:
                            harness.pin_database(url)
                        output = folder / f"{app.key}-{endpoint.key}.txt"
                        command = [spy, "record", "--pid", str(server.worker_pid()), "--rate", "250"]
                        command += ["--duration", str(args.profile_seconds), "--nonblocking", "--format", "raw"]
                        command += ["--output", str(output)]
                        if pinned:
                            command = ["taskset", "--cpu-list", str(CLIENT_CPU), *command]
                        sampler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                        result = wrk.run(server.port, endpoint, args.profile_seconds)
                        _, errors = sampler.communicate(timeout=args.profile_seconds + 30)
                        if endpoint.key == "create":
                            asyncio.run(harness._reset(url))
                    if not output.exists():
                        raise RuntimeError(f"py-spy wrote nothing: {errors.decode(errors='replace')}")
                    log(f"profiled {app.key} {endpoint.key}: {result.rps:.0f} req/s under py-spy")
                    title = f"{app.label}, {endpoint.label}: {result.rps:,.0f} req/s while sampled"
                    lines += summarize(parse(output.read_text()), title)
    finally:
        wrk.close()
        if args.logs is None:
            shutil.rmtree(folder, ignore_errors=True)
    markdown = "\n".join(lines)
    print(markdown)
    if args.output is not None:
        args.output.write_text(markdown)
    return 0
