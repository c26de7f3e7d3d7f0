"""A replay of the PMU turfinfo API over HTTP, from a folder of recorded bodies.

URL `/rest/client/{n}/programme/{path}` is served from `{root}/{path}.json`; a missing file
answers 204 like the live API. When `{root}/_captured_at.json` maps the day (DDMMYYYY, first
path segment) to an ISO time, that time is sent as the HTTP `Date` header, so an extractor that
keeps `Date` knows when each body was true.

Fault modes (for tests): with probability `fault_rate` a request gets one of the `fault_kinds`,
chosen by a seeded generator: `500`, `429` (with Retry-After), `slow` (sleeps `slow_seconds`
before answering, past a client's read timeout) or `truncated` (a 200 whose body is cut short).
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

FAULT_KINDS = ("500", "429", "slow", "truncated")
PARIS = ZoneInfo("Europe/Paris")
_PATH_RE = re.compile(r"^/rest/client/(\d+)/programme/(.+)$")


@dataclass
class FaultPlan:
    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    slow_seconds: float = 3.0
    retry_after_seconds: int = 1
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("fault rate must be within [0, 1]")
        self._rng = random.Random(self.seed)

    def draw(self) -> str | None:
        with self._lock:  # one generator shared by the server's threads
            if self.rate and self._rng.random() < self.rate:
                return self._rng.choice(self.kinds)
        return None


def resolve_body_path(root: Path, url_path: str) -> Path | None:
    """The file that holds the body of an API path, or None when the path is not an API path
    or points outside the root."""
    match = _PATH_RE.match(unquote(urlsplit(url_path).path))
    if not match:
        return None
    relative = match.group(2).strip("/")
    candidate = (root / f"{relative}.json").resolve()
    if root.resolve() not in candidate.parents:
        return None
    return candidate


def load_capture_times(root: Path) -> dict[str, datetime]:
    """Day (DDMMYYYY) -> capture time; naive times are read as Europe/Paris."""
    path = root / "_captured_at.json"
    if not path.exists():
        return {}
    times = {}
    for day, text in json.loads(path.read_text()).items():
        moment = datetime.fromisoformat(text)
        times[day] = moment if moment.tzinfo else moment.replace(tzinfo=PARIS)
    return times


def http_date(moment: datetime) -> str:
    """RFC 7231 IMF-fixdate of an aware datetime."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


class ReplayHandler(BaseHTTPRequestHandler):
    server: ReplayHTTPServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle on, delayed ACKs stall the body ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet by default
        if self.server.verbose:
            super().log_message(format, *args)

    def date_time_string(self, timestamp: float | None = None) -> str:
        day = self._day()
        captured = self.server.capture_times.get(day) if day else None
        if captured is not None:
            return http_date(captured)
        return super().date_time_string(timestamp)

    def _day(self) -> str | None:
        match = _PATH_RE.match(unquote(urlsplit(self.path).path))
        return match.group(2).split("/", 1)[0] if match else None

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.count_request()
        body_path = resolve_body_path(self.server.root, self.path)
        if body_path is None:
            self._send(404, b'{"message":"not an API path"}', {"Content-Type": "application/json"})
            return
        fault = self.server.faults.draw()
        if fault == "500":
            self._send(500, b"Internal Server Error", {"Content-Type": "text/plain"})
            return
        if fault == "429":
            self._send(429, b"Too Many Requests",
                       {"Retry-After": str(self.server.faults.retry_after_seconds)})
            return
        if fault == "slow":
            time.sleep(self.server.faults.slow_seconds)
        if not body_path.is_file():
            self._send(204)
            return
        body = body_path.read_bytes()
        if fault == "truncated":
            body = body[: max(1, len(body) // 2)]
        self._send(200, body, {"Content-Type": "application/json;charset=UTF-8"})

    do_HEAD = do_GET


class ReplayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0,
                 faults: FaultPlan | None = None, verbose: bool = False) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"replay root {self.root} is not a folder")
        self.capture_times = load_capture_times(self.root)
        self.faults = faults or FaultPlan()
        self.verbose = verbose
        self.requests_served = 0
        self._count_lock = threading.Lock()
        super().__init__((host, port), ReplayHandler)

    def count_request(self) -> None:
        with self._count_lock:
            self.requests_served += 1

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class ReplayServerThread:
    """Runs a replay server in a background thread: `with ReplayServerThread(root) as srv: srv.base_url`."""

    def __init__(self, root: Path, port: int = 0, faults: FaultPlan | None = None) -> None:
        self.httpd = ReplayHTTPServer(root, port=port, faults=faults)
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return self.httpd.base_url

    def __enter__(self) -> ReplayServerThread:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
