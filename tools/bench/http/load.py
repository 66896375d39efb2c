"""Load with wrk: one script per endpoint, each ending with a ``done`` hook that prints the summary as JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tools.bench.http import common
from tools.bench.http.servers import CLIENT_CPU

CONNECTIONS = 16
#: The ``offset`` scenario's pages: a client paging through the first ones.
OFFSET_PAGES = 10
#: The first goal of every endpoint on the database: at least this share of the floor's req/s.
FLOOR_GOAL = 0.5
#: Issue 14's goal for every CRUD read and list variant: at least this share of the floor's req/s on PostgreSQL.
CLIENT_LIST_GOAL = 0.65

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, '
    .. '"timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
"""

_SEED = """
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
end
init = function(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0))
end
"""


@dataclass(frozen=True)
class Endpoint:
    """One benchmarked endpoint.

    Attributes:
        key: Short name (``hello``, ``get``, ``list``, ``create``).
        label: Its row heading in the report.
        database: Whether it touches the database (the 0.5x-the-floor goal applies to those).
        script: The Lua that makes each request (a ``path`` alone for a fixed GET).
        path: The path of a fixed GET.
        floor_goals: The shares of the floor's req/s fastmango must reach at least (empty: 0.5x for a
            ``database`` endpoint, no goal otherwise).
        headers: Sent with every request (the admin phase's ``Authorization``).
    """

    key: str
    label: str
    database: bool
    script: str = ""
    path: str = "/"
    floor_goals: tuple[float, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    def lua(self) -> str:
        body = self.script or f'wrk.method = "GET"\nwrk.path = "{self.path}"\n'
        headers = "".join(f'wrk.headers["{name}"] = "{value}"\n' for name, value in self.headers)
        return _SEED + headers + body + _DONE


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("hello", "JSON hello (GET /hello)", database=False, path="/hello"),
    Endpoint(
        "get",
        "one row by random pk (GET /books/{pk})",
        database=True,
        script=f"""
request = function()
  return wrk.format("GET", "/books/" .. math.random(1, {common.ROWS}))
end
""",
        floor_goals=(FLOOR_GOAL, CLIENT_LIST_GOAL),
    ),
    Endpoint(
        "list",
        f"{common.LIST_LIMIT} rows + related (GET /books)",
        database=True,
        path="/books",
        floor_goals=(FLOOR_GOAL, CLIENT_LIST_GOAL),
    ),
    Endpoint(
        "create",
        "create one, validated (POST /books)",
        database=True,
        script=f"""
local created = 0
local headers = {{["Content-Type"] = "application/json"}}
request = function()
  created = created + 1
  local body = string.format(
    '{{"title": "Load test book %d", "pages": %d, "published": "2024-05-17", "author_id": %d}}',
    created, math.random(10, 1000), math.random(1, {common.AUTHORS}))
  return wrk.format("POST", "/books", headers, body)
end
""",
    ),
    # The list endpoints a client really calls (issue 14): offset pages with their COUNT, ordered, filtered and
    # searched. Same SQL in the floor as fastmango sends.
    Endpoint(
        "ordered",
        f"offset page ordered by -published, with COUNT (GET {common.CATALOG_PATH}?ordering=-published)",
        database=True,
        path=f"{common.CATALOG_PATH}?ordering=-published",
        floor_goals=(CLIENT_LIST_GOAL,),
    ),
    Endpoint(
        "search",
        f"filter + search, offset page with COUNT (GET {common.CATALOG_PATH}?author_id={{1-{common.AUTHORS}}}"
        "&search={0-9})",
        database=True,
        script=f"""
request = function()
  local path = "{common.CATALOG_PATH}?author_id=" .. math.random(1, {common.AUTHORS}) .. "&search=" .. math.random(0, 9)
  return wrk.format("GET", path)
end
""",
        floor_goals=(CLIENT_LIST_GOAL,),
    ),
    Endpoint(
        "offset",
        f"offset pages 1-{OFFSET_PAGES} with COUNT (GET {common.CATALOG_PATH}?offset={{0,20,...}})",
        database=True,
        script=f"""
request = function()
  return wrk.format("GET", "{common.CATALOG_PATH}?offset=" .. {common.LIST_LIMIT} * math.random(0, {OFFSET_PAGES - 1}))
end
""",
        floor_goals=(CLIENT_LIST_GOAL,),
    ),
)
ENDPOINT_KEYS = tuple(endpoint.key for endpoint in ENDPOINTS)


def floor_goals(endpoint: Endpoint) -> tuple[float, ...]:
    """The shares of the floor's req/s fastmango is to reach on ``endpoint`` (see :attr:`Endpoint.floor_goals`)."""
    return endpoint.floor_goals or ((FLOOR_GOAL,) if endpoint.database else ())


@dataclass(frozen=True)
class LoadResult:
    """One wrk run."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    cpu_seconds: float = float("nan")

    @property
    def cpu_us_per_request(self) -> float:
        """The server's CPU time (user + system) per request: robust to other work stealing its core."""
        return self.cpu_seconds / self.requests * 1e6 if self.requests else float("nan")

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_path() -> str | None:
    """The wrk executable, or None."""
    return shutil.which("wrk")


MISSING_WRK = "wrk is not installed: run `apt-get update && apt-get install -y wrk` (Debian's package), then retry."


class Wrk:
    """Runs wrk from CPU :data:`CLIENT_CPU` with one thread and :data:`CONNECTIONS` connections."""

    def __init__(self, *, pin: bool = True) -> None:
        executable = wrk_path()
        if executable is None:
            raise RuntimeError(MISSING_WRK)
        self.executable = executable
        self.pin = pin
        self.folder = Path(tempfile.mkdtemp(prefix="fm_bench_wrk_"))

    def run(self, port: int, endpoint: Endpoint, seconds: float) -> LoadResult:
        """Load ``endpoint`` for ``seconds``; raises RuntimeError when wrk fails."""
        script = self.folder / f"{endpoint.key}.lua"
        script.write_text(endpoint.lua())  # each time: the admin phase's scripts hold a token made at run time
        command = [
            self.executable,
            "--threads",
            "1",
            "--connections",
            str(CONNECTIONS),
            "--duration",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "--script",
            str(script),
            f"http://127.0.0.1:{port}",
        ]
        if self.pin:
            command = ["taskset", "--cpu-list", str(CLIENT_CPU), *command]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        line = next((x for x in completed.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
        if completed.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr or completed.stdout}")
        data = json.loads(line.removeprefix("BENCH_JSON "))
        errors = sum(data[name] for name in ("connect", "read", "write", "status", "timeout"))
        return LoadResult(
            requests=data["requests"],
            seconds=data["duration_us"] / 1e6,
            errors=errors,
            p50_ms=data["p50_us"] / 1000,
            p90_ms=data["p90_us"] / 1000,
            p99_ms=data["p99_us"] / 1000,
            mean_ms=data["mean_us"] / 1000,
        )

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
