"""The HTML traceback page DEBUG shows a browser for an unhandled error (Django's technical 500 page).

``problems._unhandled`` answers with this page only when DEBUG is on and the client prefers HTML
(:func:`prefers_html`); every other client keeps the problem+json answer. The page shows the exception, the
request line and id, each frame of the traceback (source around the failing line and the frame's locals) and the
request headers. Secrets are kept off it: header values and locals whose names look secret are masked, the values
so masked are blanked wherever else they appear in a local's repr, and settings objects are never rendered. The
template autoescapes: exception messages and locals are attacker-influenced.
"""

from __future__ import annotations

import linecache
import logging
import re
import reprlib
import sysconfig
import traceback
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from html import escape
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pydantic_settings import BaseSettings
from starlette.requests import Request
from starlette.responses import HTMLResponse

if TYPE_CHECKING:
    from jinja2 import Template

logger = logging.getLogger("fastmango.errors")

MASK = "***"
_TEMPLATE = Path(__file__).with_name("templates") / "debug_500.html"
_CONTEXT_LINES = 5  # source lines shown on each side of a frame's current line
_MAX_REPR = 400  # characters of one local's repr
_MAX_CHAIN = 10  # exceptions of a __cause__ / __context__ chain

_SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|password|passwd|key|session|credential", re.I)
_SECRET_WORDS = re.compile(r"password|passwd|secret|token|api_?key|credential|private|authorization|cookie", re.I)
_FASTMANGO_DIR = str(Path(__file__).resolve().parent.parent) + "/"
_LIBRARY_DIRS = tuple({str(Path(sysconfig.get_path(key)).resolve()) + "/" for key in ("stdlib", "purelib", "platlib")})


def prefers_html(accept: str) -> bool:
    """Whether an ``Accept`` header asks for HTML over JSON, as a browser navigation does.

    ``text/html`` must be listed explicitly with a quality above zero, and rank above JSON: a higher quality
    than the most specific range matching ``application/json`` (or ``application/problem+json``), or the same
    quality and listed first, or JSON matched only by a wildcard. ``*/*`` alone, no header or a JSON-first
    header keep problem+json.

    Args:
        accept: The request's ``Accept`` header ("" when absent).
    """
    html: tuple[float, int] | None = None
    json: tuple[float, int, int] | None = None  # quality, specificity, position
    for position, (media, quality) in enumerate(_media_ranges(accept)):
        if media == "text/html":
            html = html or (quality, position)
        specificity = {"application/json": 2, "application/problem+json": 2, "application/*": 1, "*/*": 0}.get(media)
        if specificity is not None and (json is None or specificity > json[1]):
            json = (quality, specificity, position)
    if html is None or html[0] <= 0:
        return False
    if json is None or html[0] != json[0]:
        return json is None or html[0] > json[0]
    return json[1] < 2 or html[1] < json[2]


def _media_ranges(accept: str) -> Iterator[tuple[str, float]]:
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        yield media.lower(), quality


def debug_response(request: Request, exc: BaseException, request_id: str | None, **kwargs: Any) -> HTMLResponse:
    """The 500 response carrying the traceback page of ``exc``; ``kwargs`` go to :class:`HTMLResponse` (headers).

    A failure while rendering the page (a broken template, say) must not hide the error being reported: the
    answer is then a bare page with the formatted traceback, escaped.
    """
    try:
        page = render_debug_page(request, exc, request_id)
    except Exception:
        logger.exception("the DEBUG traceback page failed to render")
        page = f"<!doctype html><title>500</title><pre>{escape(''.join(traceback.format_exception(exc)))}</pre>"
    return HTMLResponse(page, status_code=500, **kwargs)


def render_debug_page(request: Request, exc: BaseException, request_id: str | None) -> str:
    """The HTML traceback page for ``exc`` raised while serving ``request``.

    Args:
        request: The request being served; its method, path and headers (masked) are shown, never its body.
        exc: The unhandled exception; its ``__cause__`` / ``__context__`` chain is shown too.
        request_id: The id the response and the log line carry.
    """
    headers = [(name, MASK if _SECRET_HEADER.search(name) else value) for name, value in request.headers.items()]
    secrets = {value for name, value in request.headers.items() if _SECRET_HEADER.search(name)}
    chain = _chain(exc)
    for error in chain:
        secrets |= _secret_locals(error.__traceback__)
    scrub = _Scrubber(secrets)
    errors = [_describe(error, scrub) for error in chain]
    return _template().render(
        error=errors[-1],
        errors=errors,
        method=request.method,
        path=request.url.path,
        request_id=request_id or "",
        headers=headers,
    )


@dataclass
class SourceLine:
    """One line of a frame's source; ``current`` marks the line that was running."""

    number: int
    text: str
    current: bool


@dataclass
class FrameInfo:
    """One frame of a traceback as the page shows it.

    ``user`` is true for the project's own code, false for the standard library, installed packages and
    fastmango itself (the page collapses those).
    """

    filename: str
    lineno: int
    function: str
    user: bool
    source: list[SourceLine] = field(default_factory=list)
    locals: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ErrorInfo:
    """One exception of the chain: its type, message, frames and how it relates to the next one."""

    type: str
    message: str
    frames: list[FrameInfo]
    cause: str = ""


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it came from, the first cause first (the order Python prints them)."""
    chain = [exc]
    while len(chain) < _MAX_CHAIN:
        previous = chain[-1].__cause__ or (None if chain[-1].__suppress_context__ else chain[-1].__context__)
        if previous is None or previous in chain:
            break
        chain.append(previous)
    return chain[::-1]


def _describe(exc: BaseException, scrub: _Scrubber) -> ErrorInfo:
    cause = ""
    if exc.__cause__ is not None:
        cause = "The above exception was the direct cause of the following exception."
    elif exc.__context__ is not None and not exc.__suppress_context__:
        cause = "During handling of the above exception, another exception occurred."
    return ErrorInfo(
        type=_qualified_name(type(exc)),
        message=scrub.text(str(exc)),
        frames=[_frame(tb, scrub) for tb in _walk(exc.__traceback__)],
        cause=cause,
    )


def _qualified_name(cls: type) -> str:
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _walk(tb: TracebackType | None) -> Iterator[TracebackType]:
    while tb is not None:
        yield tb
        tb = tb.tb_next


def _frame(tb: TracebackType, scrub: _Scrubber) -> FrameInfo:
    code = tb.tb_frame.f_code
    filename, lineno = code.co_filename, tb.tb_lineno
    lines = linecache.getlines(filename, tb.tb_frame.f_globals)
    first = max(lineno - _CONTEXT_LINES, 1)
    source = [
        SourceLine(number, lines[number - 1].rstrip("\n"), number == lineno)
        for number in range(first, min(lineno + _CONTEXT_LINES, len(lines)) + 1)
    ]
    return FrameInfo(
        filename=filename,
        lineno=lineno,
        function=code.co_qualname,
        user=_is_user_code(filename),
        source=source,
        locals=[(name, scrub.local(name, value)) for name, value in tb.tb_frame.f_locals.items()],
    )


def _is_user_code(filename: str) -> bool:
    if filename.startswith("<"):  # <frozen importlib._bootstrap>, <string>
        return False
    path = str(Path(filename).resolve())
    if "site-packages" in path or "dist-packages" in path or path.startswith(_FASTMANGO_DIR):
        return False
    # The venv's own folders sit inside the project; a user's code never lives in the stdlib or lib folders.
    return not path.startswith(_LIBRARY_DIRS)


def secret_header(name: str) -> bool:
    """Whether a header named ``name`` carries a secret (Authorization, Cookie, X-API-Key, a session or token)."""
    return bool(_SECRET_HEADER.search(name))


def looks_secret(name: str) -> bool:
    """Whether a variable or mapping key named ``name`` likely holds a secret (``password``, ``api_key``, ``key``)."""
    return bool(_SECRET_WORDS.search(name)) or "key" in name.lower().split("_")


def _secret_locals(tb: TracebackType | None) -> set[str]:
    """The string values of the frames' secret-named locals, to blank wherever else they show."""
    return {
        value
        for frame in _walk(tb)
        for name, value in frame.tb_frame.f_locals.items()
        if looks_secret(name) and isinstance(value, str)
    }


class _Scrubber:
    """Renders locals (reprlib, truncated, secret names masked) and blanks known secret values in any text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Short values would blank ordinary text ("1", "on"); longest first so a value inside another goes second.
        self.secrets = sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True)
        self.repr = _MaskingRepr()

    def text(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def local(self, name: str, value: object) -> str:
        if looks_secret(name):
            return MASK
        if isinstance(value, BaseSettings):
            return f"<{type(value).__name__}: settings are not shown>"
        try:
            rendered = self.repr.repr(value)
        except Exception as error:  # a repr that fails must not take the page with it
            rendered = f"<{type(value).__name__}: repr failed ({type(error).__name__})>"
        rendered = self.text(rendered)
        return rendered if len(rendered) <= _MAX_REPR else rendered[: _MAX_REPR - 3] + "..."


class _MaskingRepr(reprlib.Repr):
    """``reprlib`` that masks the values of secret-looking mapping keys and header lists."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxdict, self.maxlist, self.maxtuple = 3, 12, 12, 12
        self.maxstring, self.maxother = 160, 160

    def repr_dict(self, x: dict[Any, Any], level: int) -> str:
        return "{" + self._items(x, level) + "}"

    def repr_Headers(self, x: Mapping[str, str], level: int) -> str:
        return f"{type(x).__name__}({{{self._items(x, level)}}})"

    repr_MutableHeaders = repr_Headers

    def repr_list(self, x: list[Any], level: int) -> str:
        # ASGI scopes carry headers as [(b"authorization", b"Bearer ..."), ...]
        if x and all(isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], bytes) for item in x):
            x = [(k, MASK if _SECRET_HEADER.search(k.decode("latin-1")) else v) for k, v in x]
        return super().repr_list(x, level)

    def _items(self, x: Mapping[Any, Any], level: int) -> str:
        if not x:
            return ""
        if level <= 0:
            return "..."
        pieces = []
        for number, (key, value) in enumerate(x.items()):
            if number == self.maxdict:
                pieces.append("...")
                break
            secret = isinstance(key, str) and (looks_secret(key) or _SECRET_HEADER.search(key))
            pieces.append(f"{self.repr1(key, level - 1)}: {self.repr1(MASK if secret else value, level - 1)}")
        return ", ".join(pieces)


@cache
def _template() -> Template:
    from jinja2 import Environment, StrictUndefined  # only an erroring DEBUG request pays for the import

    environment = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return environment.from_string(_TEMPLATE.read_text(encoding="utf-8"))
