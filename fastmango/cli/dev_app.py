"""The ASGI app ``fastmango dev`` serves with reload on: the project's app, or a 503 while it cannot load.

Uvicorn's reloader runs the app in a child process. When the import fails (a syntax error in ``app.py``,
a ``NameError``...), the child exits and the reloader keeps the listening socket: requests then hang until
a file changes. ``fastmango dev`` hands uvicorn ``fastmango.cli.dev_app:app`` instead; importing this module
in the child imports the project's app once and, if that fails, serves an RFC 9457 problem (503, the file,
line and error in ``detail``, the traceback in the body) so that the reloader keeps watching and the next
change loads the app again. A failure in the app's start-up (a plugin's ``startup``) is answered the same way.
Once the app has started, what ``fastmango check`` finds is reported (unapplied migrations, model changes
without a migration and the other database checks from a thread: the first request does not wait);
``--no-reload`` serves the app through :class:`DevApp` for that.

The project comes from environment variables the parent process sets (the child inherits them); the app is
imported on the first access to ``app``, not when the parent imports this module for the names.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastmango.core.errors import FastMangoError

#: ``package.module:attribute`` of the project's app, set by ``fastmango dev``.
APP_ENV = "FASTMANGO_DEV_APP"
#: The project's root folder, set by ``fastmango dev``.
ROOT_ENV = "FASTMANGO_DEV_ROOT"
#: The project's migrations folder, set by ``fastmango dev``.
MIGRATIONS_ENV = "FASTMANGO_DEV_MIGRATIONS"

logger = logging.getLogger("fastmango.dev")


class Unavailable:
    """Answers every request with a 503 problem describing why the app cannot run.

    Args:
        title: The problem's title (``App cannot load``, ``App cannot start``).
        detail: One line: the error and where it happened (``demo/app.py:7: NameError: ...``).
        extensions: More members of the problem document (``file``, ``line``, ``traceback``).
    """

    def __init__(self, title: str, detail: str, **extensions: Any) -> None:
        self.title = title
        self.detail = detail
        self.extensions = extensions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _empty_lifespan(receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1011, "reason": self.detail[:120]})
        else:
            from fastmango.core.problems import ProblemResponse, problem_type

            kind = problem_type("service-unavailable")
            body = {"type": kind, "title": self.title, "status": 503, "detail": self.detail}
            body["instance"] = scope.get("path", "/")
            body.update(self.extensions)
            await ProblemResponse(body, status_code=503, headers={"Retry-After": "1"})(scope, receive, send)


class DevApp:
    """The project's app, with a start-up failure turned into :class:`Unavailable` instead of an exit.

    Args:
        app: The project's ASGI app.
        app_path: Its import path, for messages.
        root: The project's root folder, to name files relative to it.
        serve_failures: Answer 503 when the app's start-up fails; off, the failure reaches the server as usual.
        on_started: Called once the app has started (the migration check).
    """

    def __init__(
        self,
        app: ASGIApp,
        app_path: str,
        root: Path,
        *,
        serve_failures: bool = True,
        on_started: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.app_path = app_path
        self.root = root
        self.serve_failures = serve_failures
        self.on_started = on_started
        self.unavailable: Unavailable | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        elif self.unavailable is not None:
            await self.unavailable(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        failure: str | None = None

        async def relay(message: Message) -> None:
            nonlocal failure
            if message["type"] == "lifespan.startup.failed" and self.serve_failures:
                failure = message.get("message") or "the app's start-up failed"  # uvicorn would exit on it
                return
            await send(message)
            if message["type"] == "lifespan.startup.complete" and self.on_started is not None:
                self.on_started()

        error: BaseException
        try:
            await self.app(scope, receive, relay)
        except Exception as exc:
            if failure is None:
                raise
            error = exc
        else:
            if failure is None:
                return
            error = RuntimeError(failure)
        self.unavailable = unavailable(error, self.app_path, self.root, "App cannot start", "cannot start")
        await send({"type": "lifespan.startup.complete"})
        await _empty_lifespan(receive, send, started=True)


def check_migrations_later(app: Any, directory: Path) -> Callable[[], None]:
    """A callback that prints the migration warnings of ``app``'s database from a thread of its own.

    The check imports Alembic and reads the schema (a tenth of a second or more); in a thread, the server
    answers meanwhile, so the first request does not wait for it.
    """

    def start() -> None:
        threading.Thread(
            target=print_migration_warnings, args=(app, directory), name="fastmango-migration-check", daemon=True
        ).start()

    return start


def check_project_later(app: Any, directory: Path) -> Callable[[], None]:
    """A callback that prints what ``fastmango check`` finds about ``app``, without refusing to serve.

    The checks that do no I/O (settings, routes, AI, tasks: a few milliseconds) run at once, so their findings
    come before the first request; the migration warnings and the checks that read the database run from a
    thread, as :func:`check_migrations_later` runs them.
    """

    def start() -> None:
        print_findings(app, directory, database=False)
        threading.Thread(target=_database_findings, args=(app, directory), name="fastmango-check", daemon=True).start()

    return start


def _database_findings(app: Any, directory: Path) -> None:
    print_migration_warnings(app, directory)
    print_findings(app, directory, database=True)


def print_findings(app: Any, directory: Path, *, database: bool) -> None:
    """Log the findings of the system checks of ``app``: the database ones, or the others.

    The database ones leave out the migration findings: :func:`print_migration_warnings` says those.
    """
    import asyncio

    from fastmango.core.app import FastMango
    from fastmango.core.system_checks import CheckContext, run_checks, run_checks_now

    if not isinstance(app, FastMango):
        return
    context = CheckContext(app.settings, app, directory)
    try:
        if database:
            from fastmango.auth.system_checks import MIGRATION_IDS

            found = [f for f in asyncio.run(run_checks(context, ["database"])) if f.id not in MIGRATION_IDS]
        else:
            found = run_checks_now(context)
    except Exception as exc:
        logger.warning("Could not run the checks: %s", exc)
        return
    for finding in found:
        level = {"error": logging.ERROR, "warning": logging.WARNING}.get(finding.level, logging.INFO)
        fix = f" Fix: {finding.hint}." if finding.hint else ""
        logger.log(level, "%s: %s.%s", finding.id, finding.message, fix)


def print_migration_warnings(app: Any, directory: Path) -> None:
    """Log what :func:`fastmango.db.migrations.check.migration_warnings` says about ``app``'s database."""
    import asyncio

    from fastmango.core.app import FastMango

    if not isinstance(app, FastMango):
        return
    # Its INFO lines ("Context impl SQLiteImpl", "setup plugin ..." on import) are noise here.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from fastmango.db.migrations import Migrations
    from fastmango.db.migrations.check import migration_warnings

    try:
        lines = asyncio.run(migration_warnings(Migrations.for_app(directory, app)))
    except Exception as exc:
        lines = [f"Could not check the migrations: {exc}"]
    for line in lines:
        logger.warning(line)


async def _empty_lifespan(receive: Receive, send: Send, *, started: bool = False) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup" and not started:
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def unavailable(exc: BaseException, app_path: str, root: Path, title: str, verb: str) -> Unavailable:
    """Describe ``exc`` as a 503 problem, and say so on the console (with the traceback)."""
    origin = exc.__cause__ if isinstance(exc, FastMangoError) and exc.__cause__ is not None else exc
    if isinstance(origin, SyntaxError):
        message = f"{type(origin).__name__}: {origin.msg}"
    elif isinstance(exc, FastMangoError) and not isinstance(origin, ImportError):
        message = str(exc)  # already names the setting or the module (invalid settings, DEBUG in prod...)
    else:
        message = f"{type(origin).__name__}: {origin}"
    file, line = _location(origin, root)
    detail = f"{file}:{line}: {message}" if file else message
    lines = traceback.format_exception(_from_project(origin, root))
    sys.stderr.write("".join(lines))
    sys.stderr.write(
        f"fastmango dev: {app_path} {verb}: {detail}\nfastmango dev: answering 503 until a project file changes\n"
    )
    sys.stderr.flush()
    return Unavailable(title, f"{app_path} {verb}: {detail}", file=file, line=line, traceback=lines)


def _location(exc: BaseException, root: Path) -> tuple[str | None, int | None]:
    """The file and line to look at: a syntax error's own, else the innermost frame in the project."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return _relative(exc.filename, root), exc.lineno
    frames = traceback.extract_tb(exc.__traceback__)
    in_project = [frame for frame in frames if _is_under(frame.filename, root)]
    candidates = in_project or frames
    if not candidates:
        return None, None
    return _relative(candidates[-1].filename, root), candidates[-1].lineno


def _from_project(exc: BaseException, root: Path) -> BaseException:
    """``exc`` with its traceback starting at the first project frame: the import machinery is noise."""
    tb = exc.__traceback__
    while tb is not None and not _is_under(tb.tb_frame.f_code.co_filename, root):
        tb = tb.tb_next
    return exc.with_traceback(tb) if tb is not None or isinstance(exc, SyntaxError) else exc


def _is_under(filename: str, root: Path) -> bool:
    if not os.path.isabs(filename):  # "<frozen importlib._bootstrap>", "<string>"
        return False
    try:
        Path(filename).resolve().relative_to(root)
    except ValueError:
        return False
    return ".venv" not in Path(filename).parts and "site-packages" not in Path(filename).parts


def _relative(filename: str, root: Path) -> str:
    try:
        return str(Path(filename).resolve().relative_to(root))
    except ValueError:
        return filename


def load() -> ASGIApp:
    """Import the project's app named by the environment; an :class:`Unavailable` app if that fails."""
    from fastmango.core.project import Project, load_app

    app_path = os.environ[APP_ENV]
    root = Path(os.environ[ROOT_ENV]).resolve()
    try:
        application = load_app(Project(root=root, app_path=app_path, config={}))
    except Exception as exc:
        return unavailable(exc, app_path, root, "App cannot load", "cannot load")
    migrations = Path(os.environ.get(MIGRATIONS_ENV) or root / "migrations")
    return DevApp(application, app_path, root, on_started=check_project_later(application, migrations))


def __getattr__(name: str) -> Any:
    # uvicorn imports ``fastmango.cli.dev_app:app``; the parent process imports the module for its constants.
    if name == "app":
        value = globals()["app"] = load()
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
