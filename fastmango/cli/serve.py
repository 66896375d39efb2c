"""``fastmango serve``: the production server (uvicorn worker processes on uvloop and httptools).

What it decides (docs/deploy.md: Running in production):

- **Workers**: ``--workers``, else ``WEB_CONCURRENCY`` (what Heroku, Render and the buildpacks set), else one per
  available core (the CPU affinity and a cgroup CPU quota count: a container with ``--cpus 2`` gets 2), at most
  :data:`MAX_DEFAULT_WORKERS`. Not gunicorn's ``2 x cores + 1``: that sizing is for synchronous workers blocked on
  I/O; an async worker keeps its core busy alone, and every extra process costs memory and a database pool.
- **Profile**: ``prod`` unless ``FASTMANGO_ENV`` says otherwise (in the environment or in ``.env``), so the
  production checks run (DEBUG off, a real SECRET_KEY).
- **Before any worker starts** the parent validates the settings, imports the app and starts and stops its plugins
  once (which reaches the database): a bad setting, an import error or an unreachable database is one line on
  stderr and exit 1, not a traceback per worker.
- **Proxy headers** (client address, scheme) only from ``settings.forwarded_allow_ips``; none by default (uvicorn
  would believe 127.0.0.1).
- **Graceful shutdown**: on SIGTERM or SIGINT the server stops accepting, lets open requests finish for
  ``settings.graceful_shutdown_seconds``, then runs the app's shutdown.
- **Listening**: ``--host`` (``0.0.0.0``: containers route to it) and ``--port``, else ``PORT`` (set by Fly.io,
  Render, Railway, Cloud Run, Heroku), else 8000.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from fastmango.cli.main import app, fail

if TYPE_CHECKING:
    from uvicorn import Config

#: Workers at most when neither ``--workers`` nor ``WEB_CONCURRENCY`` says how many.
MAX_DEFAULT_WORKERS = 8
DEFAULT_PORT = 8000
_CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


@app.command()
def serve(
    host: str = typer.Option("0.0.0.0", help="Interface to bind (0.0.0.0: every interface, as containers need)."),
    port: int | None = typer.Option(None, min=1, max=65535, help="Port to listen on (default: PORT, else 8000)."),
    workers: int | None = typer.Option(
        None, min=1, help=f"Processes (default: WEB_CONCURRENCY, else one per core, {MAX_DEFAULT_WORKERS} at most)."
    ),
    check: bool = typer.Option(
        True, "--check/--no-check", help="Import the app and reach the database once before the workers start."
    ),
) -> None:
    """Run the production server for the project found from the current folder (the prod profile by default)."""
    from fastmango.core.errors import ImproperlyConfigured
    from fastmango.core.project import find_project, load_app

    try:
        port = port if port is not None else port_from_environment(os.environ)
        workers = workers if workers is not None else default_workers(os.environ)
    except ImproperlyConfigured as exc:
        raise fail(str(exc)) from None
    started = time.perf_counter()
    project = find_project()
    os.chdir(project.root)
    if str(project.root) not in sys.path:
        sys.path.insert(0, str(project.root))
    profile = choose_profile(os.environ, project.root)
    os.environ["FASTMANGO_ENV"] = profile  # the worker processes inherit it
    application = load_app(project)
    settings = getattr(application, "settings", None)
    if check:
        preflight_or_fail(application)
    config = server_config(
        project.app_path if workers > 1 else application,
        host=host,
        port=port,
        workers=workers,
        forwarded_allow_ips=list(getattr(settings, "forwarded_allow_ips", [])),
        graceful_shutdown_seconds=getattr(settings, "graceful_shutdown_seconds", 30),
    )
    plural = "s" if workers > 1 else ""
    typer.echo(
        f"fastmango serve: {project.app_path} (profile {profile}) on http://{host}:{port}, {workers} worker{plural} "
        f"({config.loop}, {config.http}); checked in {time.perf_counter() - started:.2f} s"
    )
    run_server(config)


def choose_profile(environ: Mapping[str, str], root: Path) -> str:
    """``FASTMANGO_ENV`` from the environment or the project's ``.env``; ``prod`` when neither sets it."""
    from fastmango.core.settings import _profile_from_dotenv

    if environ.get("FASTMANGO_ENV"):
        return environ["FASTMANGO_ENV"]
    previous = Path.cwd()
    try:
        os.chdir(root)
        return _profile_from_dotenv() or "prod"
    finally:
        os.chdir(previous)


def port_from_environment(environ: Mapping[str, str]) -> int:
    """``PORT`` (as platforms set it), else :data:`DEFAULT_PORT`.

    Raises:
        ImproperlyConfigured: ``PORT`` is not a port number.
    """
    from fastmango.core.errors import ImproperlyConfigured

    value = environ.get("PORT", "").strip()
    if not value:
        return DEFAULT_PORT
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise ImproperlyConfigured(f"PORT={value!r} is not a port number (1-65535)")
    return int(value)


def default_workers(environ: Mapping[str, str]) -> int:
    """``WEB_CONCURRENCY``, else one worker per available core, at most :data:`MAX_DEFAULT_WORKERS`.

    Raises:
        ImproperlyConfigured: ``WEB_CONCURRENCY`` is not a positive whole number.
    """
    from fastmango.core.errors import ImproperlyConfigured

    value = environ.get("WEB_CONCURRENCY", "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ImproperlyConfigured(f"WEB_CONCURRENCY={value!r} is not a number of workers (1 or more)")
        return int(value)
    return max(1, min(available_cores(), MAX_DEFAULT_WORKERS))


def available_cores(cpu_max: Path = _CGROUP_CPU_MAX) -> int:
    """The cores this process may use: its CPU affinity, lowered by a cgroup v2 CPU quota (a container's limit)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


def preflight_or_fail(application: object) -> None:
    """Start and stop the app's plugins once; an app that refuses to start stops ``serve`` with one line."""
    from fastmango.cli.dev import preflight
    from fastmango.core.errors import FastMangoError

    try:
        preflight(application)
    except FastMangoError:
        raise
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else ""
        raise fail(f"the app did not start: {type(exc).__name__}: {reason}") from exc


def server_config(
    application: Any,
    *,
    host: str,
    port: int,
    workers: int,
    forwarded_allow_ips: list[str],
    graceful_shutdown_seconds: int,
) -> Config:
    """uvicorn's configuration for the production server (``application``: an import string when ``workers > 1``)."""
    import uvicorn

    has_uvloop = importlib.util.find_spec("uvloop") is not None
    has_httptools = importlib.util.find_spec("httptools") is not None
    return uvicorn.Config(
        application,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop" if has_uvloop else "asyncio",
        http="httptools" if has_httptools else "h11",
        lifespan="on",
        # fastmango configures logging from the settings and logs each request itself (fastmango.request).
        log_config=None,
        access_log=False,
        # Without trusted proxies uvicorn would still believe X-Forwarded-* from 127.0.0.1; with them it reads the
        # client address and the scheme from the same proxies the app trusts (settings.forwarded_allow_ips).
        proxy_headers=bool(forwarded_allow_ips),
        forwarded_allow_ips=forwarded_allow_ips or None,
        timeout_graceful_shutdown=graceful_shutdown_seconds,
        server_header=False,
    )


def run_server(config: Config) -> None:
    """Serve in this process (one worker) or under uvicorn's process manager; exit 1 when a worker did not start."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    try:
        socket = config.bind_socket()
    except SystemExit:  # uvicorn logged the OSError (address in use, permission denied)
        raise fail(f"cannot listen on {config.host}:{config.port}") from None
    if config.workers == 1:
        server = uvicorn.Server(config)
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[socket])
        if not server.started:
            raise fail("the server did not start (see the log above)")
        return
    manager = Multiprocess(config, sockets=[socket])
    manager.run()
    if any(process.exitcode == STARTUP_FAILURE for process in manager.processes):
        raise fail("a worker process did not start the app (see the log above)")
