"""HTTP benchmark of fastmango against FastAPI + SQLAlchemy, Django REST Framework, Django Ninja and the raw
asyncpg floor.

    .venv/bin/python -m tools.bench.http --output tools/bench/RESULTS.md      # the full run (~13 min)
    .venv/bin/python -m tools.bench.http --quick                              # a 2-minute smoke run
    .venv/bin/python -m tools.bench.http --apps fastmango,floor --rounds 5
    .venv/bin/python -m tools.bench.http --profile get,create                # py-spy of fastmango under load
    .venv/bin/python -m tools.bench.http --admin-only --duration 2           # only fastmango's admin phase

The apps run from .venv-bench (created on first use from this interpreter: fastmango[postgres] and
tools/bench/requirements-bench.txt). Needs wrk (`apt-get install -y wrk`) and the PostgreSQL server; the
benchmark creates and drops its own database, fm_bench_http. Progress goes to stderr, the markdown to
stdout (and --output).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tools.bench.http import admin_list, benchenv, harness, report
from tools.bench.http.load import ENDPOINT_KEYS, ENDPOINTS, MISSING_WRK, wrk_path
from tools.bench.http.servers import APP_CPU, APP_KEYS, CLIENT_CPU, ROOT, pin_to, select_apps


def _keys(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench.http",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are kept (default: 3)")
    parser.add_argument("--duration", type=int, default=5, help="measured seconds per run (default: 5)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured seconds before each run (default: 1)")
    parser.add_argument("--startup-samples", type=int, default=10, help="timed starts per app (default: 10)")
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s runs, 2 start-ups: a smoke run")
    parser.add_argument("--apps", type=_keys, help=f"comma-separated subset of {','.join(APP_KEYS)}")
    parser.add_argument("--endpoints", type=_keys, help=f"comma-separated subset of {','.join(ENDPOINT_KEYS)}")
    parser.add_argument(
        "--admin-rounds",
        type=int,
        default=admin_list.ROUNDS,
        help="rounds of fastmango's admin list phase on a 100,000-row table; 0 skips it (default: %(default)s)",
    )
    parser.add_argument(
        "--admin-only",
        action="store_true",
        help="only fastmango's checks and admin phase: no start-ups, no other endpoints or apps",
    )
    parser.add_argument(
        "--postgres-url",
        default=harness.DEFAULT_SERVER_URL,
        help="any database on the server; used to create and drop fm_bench_http (default: %(default)s)",
    )
    parser.add_argument("--python", help="interpreter that runs the apps (default: .venv-bench, made on demand)")
    parser.add_argument("--no-pin", action="store_true", help="pin nothing to a CPU")
    parser.add_argument("--logs", type=Path, help="keep the apps' stdout/stderr in this folder")
    parser.add_argument("--output", type=Path, help="also write the markdown to this file")
    parser.add_argument(
        "--profile",
        type=_keys,
        metavar="ENDPOINTS",
        help="instead of the benchmark: profile apps under load with py-spy and print where the time goes",
    )
    parser.add_argument(
        "--profile-apps", type=_keys, default=["fastmango"], help="apps to profile (default: fastmango)"
    )
    parser.add_argument("--profile-seconds", type=int, default=10, help="seconds sampled per endpoint (default: 10)")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.warmup, args.startup_samples = 1, 1, 1, 2
    for name in ("rounds", "duration", "warmup", "startup_samples"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.admin_rounds < 0:
        parser.error("--admin-rounds must be at least 0")
    if args.admin_only:
        if args.admin_rounds < 1:
            parser.error("--admin-only needs --admin-rounds of at least 1")
        args.apps = ["fastmango"]
    for keys, known, option in ((args.apps, APP_KEYS, "--apps"), (args.endpoints, ENDPOINT_KEYS, "--endpoints")):
        unknown = set(keys or ()) - set(known)
        if unknown:
            parser.error(f"{option}: unknown {', '.join(sorted(unknown))}; choose from {', '.join(known)}")
    return args


def make_log() -> harness.Log:
    started = time.perf_counter()
    return lambda message: print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)


def describe_environment(python: str, pinned: bool) -> str:
    import subprocess

    probe = (
        "from importlib.metadata import version as v; import platform; "
        "print(platform.python_version(), ', '.join(f'{n} {v(n)}' for n in "
        "('fastapi', 'starlette', 'pydantic', 'SQLAlchemy', 'sqlmodel', 'asyncpg', 'uvicorn', 'uvloop', "
        "'Django', 'djangorestframework', 'django-ninja', 'gunicorn', 'psycopg')))"
    )
    completed = subprocess.run([python, "-c", probe], capture_output=True, text=True)
    versions = completed.stdout.strip() or "(versions unknown)"
    py, _, packages = versions.partition(" ")
    wrk = subprocess.run([wrk_path() or "wrk", "--version"], capture_output=True, text=True).stdout.split(" [")[0]
    pinning = (
        f"App server pinned to CPU {APP_CPU}; wrk, the harness and PostgreSQL's backends serving the benchmark "
        f"database to CPU {CLIENT_CPU}."
        if pinned
        else "Nothing pinned to a CPU."
    )
    machine = f"{_cpu_model()} ({os.cpu_count()} cores), {platform.system()}"
    return f"fastmango {_revision()}; Python {py}; {packages}; {wrk.strip()}; {machine}. {pinning}"


def _revision() -> str:
    """The commit measured, and whether fastmango/ had uncommitted changes."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "(no git)"
    dirty = git("status", "--porcelain", "--", "fastmango")
    return f"at {commit}" + (" with uncommitted changes in fastmango/" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    log = make_log()
    if wrk_path() is None:
        print(MISSING_WRK, file=sys.stderr)
        return 3
    python = args.python or benchenv.ensure(log)
    pinned = not args.no_pin and (os.cpu_count() or 1) > CLIENT_CPU
    if pinned:
        pin_to(CLIENT_CPU)
    apps = select_apps(args.apps)
    endpoints = [] if args.admin_only else [e for e in ENDPOINTS if not args.endpoints or e.key in args.endpoints]
    if args.profile:
        from tools.bench.http import profile

        return profile.main(args, python, pinned, log)
    plan = harness.Plan(
        apps=apps,
        endpoints=endpoints,
        rounds=args.rounds,
        duration=args.duration,
        warmup=args.warmup,
        startup_samples=args.startup_samples,
        pin=pinned,
        python=python,
        server_url=args.postgres_url,
        log_dir=args.logs,
        admin_rounds=args.admin_rounds,
        startup=not args.admin_only,
    )
    if args.logs is not None:
        args.logs.mkdir(parents=True, exist_ok=True)
    size = f"{len(apps)} apps x {len(endpoints)} endpoints x {args.rounds} rounds"
    if plan.has_admin_phase:
        size += f", the admin phase x {args.admin_rounds} rounds"
    log(f"about {plan.estimate_seconds() / 60:.0f} min: {size}")
    try:
        results = harness.run(plan, log)
    except harness.CheckFailed as exc:
        print(f"check failed, nothing timed: {exc}", file=sys.stderr)
        return 2
    command = "python -m tools.bench.http " + " ".join(argv if argv is not None else sys.argv[1:])
    markdown = report.document(plan, results, describe_environment(python, pinned), command.strip())
    print(markdown, end="")
    if args.output is not None:
        args.output.write_text(markdown)
        log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
