"""A replay of the PMU turfinfo API over HTTP, from a folder of recorded bodies.

URL `/rest/client/{n}/programme/{path}` is served from `{root}/{path}.json`; a missing file
answers 204 like the live API. When `{root}/_captured_at.json` maps the day (DDMMYYYY, first
path segment) to an ISO time, that time is sent as the HTTP `Date` header, so an extractor that
keeps `Date` knows when each body was true.

Fault modes (for tests): with probability `fault_rate` a request gets one of the `fault_kinds`,
chosen by a seeded generator: `500`, `429` (with Retry-After), `slow` (waits `slow_seconds`
before answering, past a client's read timeout) or `truncated` (a 200 whose body is cut short, at
a point drawn from the same generator: like a network, not at the same byte every time).

The serving core is a minimal HTTP/1.1 server on asyncio (GET and HEAD, keep-alive, Content-Length
framing): one thread serves every connection, and an answer costs a stat and one socket write.
File bytes are cached in memory with their full pre-rendered answer, keyed on the file's
(mtime_ns, size), so a file rewritten on disk is served fresh. The stock `http.server` spent
~300 µs of CPU per request, more than the extractor it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import socket
import stat
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, formatdate
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pmu_core.facts import API_PATH_PREFIX, PARIS

FAULT_KINDS = ("500", "429", "slow", "truncated")
# API_PATH_PREFIX with its client number captured, then the body's path
_PATH_RE = re.compile("^" + r"(\d+)".join(map(re.escape, API_PATH_PREFIX.split("{client}"))) + "(.+)$")

_MAX_HEAD_BYTES = 64 * 1024  # request line + headers
_MAX_CACHED_TARGETS = 100_000  # distinct request targets remembered (resolution, not bytes)
_SERVER_LINE = b"Server: pmu-replay\r\n"
_JSON = b"Content-Type: application/json;charset=UTF-8\r\n"
_TEXT = b"Content-Type: text/plain\r\n"
_REASONS = {
    200: b"OK",
    204: b"No Content",
    400: b"Bad Request",
    404: b"Not Found",
    429: b"Too Many Requests",
    500: b"Internal Server Error",
    501: b"Not Implemented",
}


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
        if not self.rate:
            return None
        with self._lock:  # one generator, possibly shared by several servers' threads
            if self._rng.random() < self.rate:
                return self._rng.choice(self.kinds)
        return None

    def cut(self, length: int) -> int:
        """Where a truncated answer of `length` bytes stops: at least 1 byte, never all of them."""
        if length <= 1:
            return length
        with self._lock:
            return self._rng.randrange(1, length)


class BadRequestPath(ValueError):
    """A request path no file name can have (a NUL byte): answered 400."""


def resolve_body_path(root: Path, url_path: str) -> Path | None:
    """The file that holds the body of an API path, or None when the path is not an API path
    or climbs out of the root (`..`). Judged on the path's segments, not on where symlinks lead:
    a day folder linked into the root is served. Raises BadRequestPath for a NUL byte."""
    match = _PATH_RE.match(unquote(urlsplit(url_path).path))
    if not match:
        return None
    relative = match.group(2).strip("/")
    if "\x00" in relative:
        raise BadRequestPath("NUL byte in the request path")
    segments = relative.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return None
    return root.joinpath(*segments[:-1], f"{segments[-1]}.json")


def _day_of(url_path: str) -> str | None:
    """First segment after `programme/` (the day, DDMMYYYY, for a well-formed path)."""
    match = _PATH_RE.match(unquote(urlsplit(url_path).path))
    return match.group(2).split("/", 1)[0] if match else None


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


def render_response(
    status: int,
    date_line: bytes,
    body: bytes = b"",
    headers: bytes = b"",
    head_only: bool = False,
    close: bool = False,
) -> bytes:
    """One whole HTTP/1.1 answer: status line, Server, Date, extra `headers` (already rendered
    lines), Content-Length (of `body`, also for HEAD), then the body unless `head_only`."""
    return b"".join(
        (
            b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown")),
            _SERVER_LINE,
            date_line,
            headers,
            b"Connection: close\r\n" if close else b"",
            b"Content-Length: %d\r\n\r\n" % len(body),
            b"" if head_only else body,
        )
    )


@dataclass
class _Target:
    """What a request target resolves to (cached per target string)."""

    path: str | None  # the body's file; None: not an API path (404)
    day: str | None
    bad: bool = False  # not a path any file can have (400)


@dataclass
class _Body:
    """A file's bytes and its GET answer, valid while the file keeps (mtime_ns, size)."""

    mtime_ns: int
    size: int
    body: bytes
    date_line: bytes
    response: bytes  # the full 200 answer with `date_line`


class _Connection(asyncio.Protocol):
    """One client connection: requests are answered in order; a `slow` fault holds the connection
    (and only it) until its answer is written."""

    def __init__(self, server: ReplayHTTPServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiting: asyncio.Task | None = None
        self.peer = "-"

    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if peer else "-"
        self.server._connections.add(self)
        self.server.connections_accepted += 1

    def connection_lost(self, exc) -> None:
        self.server._connections.discard(self)
        self.transport = None
        if self.waiting is not None:
            self.waiting.cancel()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiting is None:
            self._answer_buffered()

    def _answer_buffered(self) -> None:
        while self.transport is not None and not self.transport.is_closing():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEAD_BYTES:
                    self._finish(self.server.error(400), close=True)
                return
            request = _parse_head(bytes(self.buffer[:end]))
            if request is None:
                self._finish(self.server.error(400), close=True)
                return
            method, target, keep_alive, body_length = request
            if body_length is None:  # chunked request bodies: not something the API takes
                self._finish(self.server.error(400), close=True)
                return
            if len(self.buffer) < end + 4 + body_length:
                return  # wait for the (ignored) request body
            del self.buffer[: end + 4 + body_length]
            answer = self.server.answer(method, target)
            if isinstance(answer, bytes):
                self._finish(answer, close=not keep_alive, log=(method, target))
                continue
            # a `slow` fault: answer later, and read nothing more from this connection meanwhile
            self.waiting = asyncio.get_running_loop().create_task(
                self._answer_later(answer, method, target, keep_alive)
            )
            return

    async def _answer_later(self, delay: float, method: str, target: str, keep_alive: bool) -> None:
        await asyncio.sleep(delay)
        self.waiting = None
        if self.transport is None:
            return
        self._finish(
            self.server.answer(method, target, after_fault=True), close=not keep_alive, log=(method, target)
        )
        self._answer_buffered()

    def _finish(self, response: bytes, close: bool, log: tuple[str, str] | None = None) -> None:
        if self.transport is None:
            return
        self.transport.write(response)
        if self.server.verbose and log:
            status = response[9:12].decode()
            sys.stderr.write(f'{self.peer} - - [{formatdate(usegmt=True)}] "{log[0]} {log[1]}" {status} -\n')
        if close:
            self.transport.close()


def _parse_head(head: bytes) -> tuple[str, str, bool, int | None] | None:
    """(method, target, keep_alive, body length or None if chunked) of a request head, or None when
    it is not HTTP/1.x."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return None
    keep_alive = parts[2] != b"HTTP/1.0"
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"connection":
            value = value.strip().lower()
            if value == b"close":
                keep_alive = False
            elif value == b"keep-alive":
                keep_alive = True
        elif name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return None
            if length < 0:
                return None
        elif name == b"transfer-encoding":
            return parts[0].decode("latin-1"), parts[1].decode("latin-1"), False, None
    return parts[0].decode("latin-1"), parts[1].decode("latin-1"), keep_alive, length


async def _end_tasks(pending: set[asyncio.Task]) -> None:
    """After Ctrl-C the serving task and slow answers are still pending: end them; then one more
    turn of the loop lets the closed transports' callbacks run."""
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    await asyncio.sleep(0)


class ReplayHTTPServer:
    """The replay server: listens from construction on (so `base_url` is known at once, port 0
    picks a free port); `serve_forever()` serves until `shutdown()` (from another thread) or
    Ctrl-C; `server_close()` releases the socket."""

    def __init__(
        self,
        root: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultPlan | None = None,
        verbose: bool = False,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"replay root {self.root} is not a folder")
        self.capture_times = load_capture_times(self.root)
        self._capture_lines = {
            day: b"Date: %s\r\n" % http_date(moment).encode() for day, moment in self.capture_times.items()
        }
        self.faults = faults or FaultPlan()
        self.verbose = verbose
        self.requests_served = 0
        self.connections_accepted = 0  # how many TCP connections those requests came on
        self.socket = socket.create_server((host, port), backlog=128)
        self.server_address = self.socket.getsockname()
        self._targets: dict[str, _Target] = {}
        self._bodies: dict[str, _Body] = {}
        self._now_line = (0, b"")
        self._connections: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._shutdown_request = False
        self._is_shut_down = threading.Event()
        self._is_shut_down.set()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    # ---- answers (run on the event loop's thread only) ----------------------------------------

    def _date_line(self, day: str | None) -> bytes:
        captured = self._capture_lines.get(day) if day else None
        if captured is not None:
            return captured
        now = int(time.time())
        if self._now_line[0] != now:
            self._now_line = (now, b"Date: %s\r\n" % formatdate(now, usegmt=True).encode())
        return self._now_line[1]

    def _target(self, target: str) -> _Target:
        found = self._targets.get(target)
        if found is None:
            try:
                path = resolve_body_path(self.root, target)
            except BadRequestPath:
                found = _Target(None, None, bad=True)
            else:
                found = _Target(str(path) if path is not None else None, _day_of(target))
            if len(self._targets) >= _MAX_CACHED_TARGETS:
                self._targets.clear()
            self._targets[target] = found
        return found

    def error(self, status: int) -> bytes:
        return render_response(status, self._date_line(None), _REASONS[status], _TEXT, close=True)

    def answer(self, method: str, target: str, after_fault: bool = False) -> bytes | float:
        """The whole answer to `method target`; a float when a `slow` fault says to wait that
        many seconds and call again with `after_fault`."""
        if method not in ("GET", "HEAD"):
            return self.error(501)
        head_only = method == "HEAD"
        if not after_fault:
            self.requests_served += 1
        resolved = self._target(target)
        if resolved.bad:
            return self.error(400)
        date_line = self._date_line(resolved.day)
        if resolved.path is None:
            return render_response(
                404,
                date_line,
                b'{"message":"not an API path"}',
                b"Content-Type: application/json\r\n",
                head_only,
            )
        fault = None if after_fault else self.faults.draw()
        if fault == "500":
            return render_response(500, date_line, b"Internal Server Error", _TEXT, head_only)
        if fault == "429":
            return render_response(
                429,
                date_line,
                b"Too Many Requests",
                b"Retry-After: %d\r\n" % self.faults.retry_after_seconds,
                head_only,
            )
        if fault == "slow":
            return float(self.faults.slow_seconds)
        try:
            info = os.stat(resolved.path)
        except OSError:
            info = None
        if info is None or not stat.S_ISREG(info.st_mode):
            return render_response(204, date_line, head_only=head_only)
        cached = self._bodies.get(resolved.path)
        if cached is None or cached.mtime_ns != info.st_mtime_ns or cached.size != info.st_size:
            try:
                with open(resolved.path, "rb") as handle:
                    body = handle.read()
            except OSError:
                return render_response(204, date_line, head_only=head_only)
            cached = _Body(
                info.st_mtime_ns, info.st_size, body, date_line, render_response(200, date_line, body, _JSON)
            )
            self._bodies[resolved.path] = cached
        if fault == "truncated":
            return render_response(
                200, date_line, cached.body[: self.faults.cut(len(cached.body))], _JSON, head_only
            )
        if head_only:
            return render_response(200, date_line, cached.body, _JSON, head_only=True)
        if cached.date_line is not date_line:  # "now" dates move each second
            cached.date_line = date_line
            cached.response = render_response(200, date_line, cached.body, _JSON)
        return cached.response

    # ---- lifecycle ----------------------------------------------------------------------------

    def serve_forever(self) -> None:
        self._is_shut_down.clear()
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            self._loop = None
            try:
                self._close_connections()
                loop.run_until_complete(_end_tasks(asyncio.all_tasks(loop)))
            finally:
                loop.close()
                self._is_shut_down.set()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        if self._shutdown_request:
            return
        server = await asyncio.get_running_loop().create_server(lambda: _Connection(self), sock=self.socket)
        try:
            await self._stop.wait()
        finally:
            server.close()

    def _close_connections(self) -> None:
        for connection in list(self._connections):
            if connection.waiting is not None:
                connection.waiting.cancel()
            if connection.transport is not None:
                connection.transport.close()

    def _wake_to_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def shutdown(self) -> None:
        """Stop `serve_forever` (called from another thread) and wait until it has returned."""
        self._shutdown_request = True
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._wake_to_stop)
        self._is_shut_down.wait()

    def server_close(self) -> None:
        self.socket.close()


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
