"""A polite HTTP client for the PMU turfinfo API: browser-like headers, timeouts, retries with
exponential backoff and jitter (honouring Retry-After), one global rate limit shared by all
threads, bounded concurrency. It fetches bytes and says what happened; it never parses bodies.

204 and 404 mean "not published (yet)": an answer, not an error, and never retried.
"""

from __future__ import annotations

import functools
import http.cookiejar
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
import urllib3
from requests.adapters import HTTPAdapter

from pmu_core.facts import API_PATH_PREFIX, CLIENT_NUMBERS
from pmu_core.settings import load_settings

NOT_PUBLISHED_STATUSES = frozenset({204, 404})
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

# What a desktop browser on pmu.fr sends: the API serves it, and it is honest about being a browser-
# like reader rather than a scraper farm (the rate limit does the rest of the politeness).
BROWSER_HEADERS = {
    "User-Agent": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
    ),
    "Accept": "application/json, text/plain, */*",
    "Accept-Language": "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7",
    "Accept-Encoding": "gzip, deflate",
    "Origin": "https://www.pmu.fr",
    "Referer": "https://www.pmu.fr/",
    "Connection": "keep-alive",
}


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    client: int = 1
    requests_per_second: float | None = 4.0  # None: unlimited
    # 2: on 2 cores more threads only fight over the GIL (bench/landing.py measures 1, 2 and 4
    # workers: bench/results/landing.json); against the live API at 4 requests/s, 2 keep up with
    # answers of up to 0.5 s.
    max_workers: int = 2
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    max_attempts: int = 5
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.requests_per_second is not None and self.requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive (or None for unlimited)")
        if self.max_workers < 1 or self.max_attempts < 1:
            raise ValueError("max_workers and max_attempts must be at least 1")
        if self.client < 1:
            raise ValueError(f"client number must be positive (the API knows {CLIENT_NUMBERS})")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    @classmethod
    def from_env(cls, **overrides) -> ClientConfig:
        """Defaults, with base_url from PMU_API_BASE_URL (read now), then `overrides`."""
        config = cls(base_url=load_settings().api_base_url)
        return replace(config, **overrides) if overrides else config

    def url(self, path: str) -> str:
        return f"{self.base_url}{API_PATH_PREFIX.format(client=self.client)}{path}"


# ---- small pure functions -------------------------------------------------------------------


def backoff_delay(attempt: int, base: float, cap: float, unit_random: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): exponential, capped, with
    "equal jitter" (half fixed, half random) so that threads retrying together spread out but
    still wait at least half the step."""
    step = min(cap, base * (2 ** (attempt - 1)))
    return step / 2 + unit_random * step / 2


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from `now`: delta-seconds or an HTTP-date; None when absent/garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


@functools.lru_cache(maxsize=256)  # the same Date comes back on many answers (a replay's capture time)
def parse_http_date(value: str | None) -> datetime | None:
    """The HTTP Date header as an aware UTC datetime, or None."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


class RateLimiter:
    """At most `rate` requests per second over all threads (None: unlimited), as evenly spaced
    slots; `pause_until` holds every thread back after a 429. Clock and sleep are injectable so
    the arithmetic is testable without waiting."""

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take the next slot; returns how long the caller must wait for it."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
            return slot - now

    def wait(self) -> None:
        delay = self.reserve()
        if delay > 0:
            self._sleep(delay)

    def pause_until_in(self, seconds: float) -> None:
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)


# ---- fetching ----------------------------------------------------------------------------------


@dataclass
class FetchResult:
    """The final outcome of fetching one URL (after retries). `status` is one of
    ok (a 200 body), not_published (204/404) or failed (with `reason`)."""

    url: str
    status: str
    http_status: int | None = None
    body: bytes | None = None
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    served_at: datetime | None = None
    attempts: int = 0
    reason: str | None = None
    tag: object = None  # what the caller needs to place the body (endpoint, day, R, C)


class PmuClient:
    """Fetches API paths with retries under one rate limit; `fetch_many` runs them on at most
    `max_workers` threads. Thread-safe."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_result: Callable[[FetchResult], None] | None = None,
    ) -> None:
        self.config = config
        self.limiter = RateLimiter(config.requests_per_second, sleep=sleep)
        self._sleep = sleep
        self._local = threading.local()
        self._random = random.Random()
        self._random_lock = threading.Lock()
        self.on_result = on_result
        self._timeout = (config.connect_timeout, config.read_timeout)
        self._sessions_lock = threading.Lock()
        self._sessions: list[requests.Session] = []
        # One pool for the client's life: worker threads keep their keep-alive connections across
        # endpoints and days.
        self._pool = ThreadPoolExecutor(max_workers=config.max_workers, thread_name_prefix="pmu-fetch")

    def _session(self) -> requests.Session:
        """The calling thread's session (made on its first request): one kept-alive connection."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(BROWSER_HEADERS)
            # Proxy settings from the environment are read once here: with trust_env, requests
            # re-reads them (and ~/.netrc) on every request.
            session.proxies.update(requests.utils.get_environ_proxies(self.config.base_url))
            session.trust_env = False
            # The API is stateless: the session keeps no cookie it might set (nor sends one back).
            session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.template = session.prepare_request(requests.Request("GET", self.config.base_url))
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def _get(self, url: str) -> requests.Response:
        """GET `url` through the thread's session, streamed (the caller reads the body). The request
        is a copy of one the session prepared once, with `url` set as built (`ClientConfig.url`: the
        base URL and an API path, nothing to quote; requests documents editing a prepared request's
        attributes before `Session.send`). Everything else `Session.get` would merge and prepare
        again on every call is the same for every request of the session: the browser headers, no
        auth, no cookie, no hook, no body."""
        session = self._session()
        request = self._local.template.copy()
        request.url = url
        return session.send(request, timeout=self._timeout, stream=True, proxies=session.proxies)

    def _jitter(self) -> float:
        with self._random_lock:
            return self._random.random()

    def fetch(self, path: str, tag: object = None) -> FetchResult:
        url = self.config.url(path)
        cfg = self.config
        reason = None
        http_status = None
        for attempt in range(1, cfg.max_attempts + 1):
            self.limiter.wait()
            retry_after = None
            try:
                response = self._get(url)
                # Read fully inside the try, in one read of the raw stream (a cut body raises
                # urllib3's ProtocolError, a stalled one its ReadTimeoutError; `.content` would
                # turn the stall into a requests ConnectionError).
                body = response.raw.read(decode_content=True)
            except (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError) as exc:
                reason, http_status = f"timeout: {type(exc).__name__}", None
            except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
                reason, http_status = f"connection error: {type(exc).__name__}: {exc}", None
            else:
                fetched_at = datetime.now(UTC)
                http_status = response.status_code
                served_at = parse_http_date(response.headers.get("Date"))
                if http_status == 200:
                    return FetchResult(url, "ok", 200, body, fetched_at, served_at, attempt, tag=tag)
                if http_status in NOT_PUBLISHED_STATUSES:
                    return FetchResult(
                        url, "not_published", http_status, None, fetched_at, served_at, attempt, tag=tag
                    )
                reason = f"HTTP {http_status}"
                if http_status not in RETRYABLE_STATUSES:
                    return FetchResult(
                        url,
                        "failed",
                        http_status,
                        None,
                        fetched_at,
                        served_at,
                        attempt,
                        reason=f"{reason} (not retried)",
                        tag=tag,
                    )
                retry_after = parse_retry_after(response.headers.get("Retry-After"), fetched_at)
            if attempt == cfg.max_attempts:
                break
            delay = backoff_delay(attempt, cfg.backoff_base_seconds, cfg.backoff_max_seconds, self._jitter())
            if retry_after is not None:
                if retry_after > cfg.backoff_max_seconds:
                    reason += f", Retry-After {retry_after:.0f}s exceeds backoff_max_seconds"
                    return FetchResult(
                        url, "failed", http_status, None, attempts=attempt, reason=reason, tag=tag
                    )
                delay = max(delay, retry_after)
                self.limiter.pause_until_in(retry_after)  # the server asked everyone to slow down
            self._sleep(delay)
        return FetchResult(
            url,
            "failed",
            http_status,
            None,
            attempts=cfg.max_attempts,
            reason=f"{reason} after {cfg.max_attempts} attempts",
            tag=tag,
        )

    def _fetch_and_report(self, item: tuple[str, object]) -> FetchResult:
        result = self.fetch(*item)
        if self.on_result is not None:
            self.on_result(result)
        return result

    def fetch_many(self, items: Iterable[tuple[str, object]]) -> list[FetchResult]:
        """Fetch (path, tag) pairs concurrently; results in the order of `items`.

        Each worker takes the next item from one shared queue until none is left, and the caller
        waits once per worker rather than once per item: a future per item costs a thread wake-up
        and a GIL hand-off per request. A single item is fetched on the calling thread. On an
        exception in the caller (Ctrl-C) workers stop taking items."""
        pending = list(items)
        results: list[FetchResult | None] = [None] * len(pending)
        if len(pending) == 1:
            results[0] = self._fetch_and_report(pending[0])
            return results
        queue = iter(enumerate(pending))
        queue_lock = threading.Lock()
        stop = threading.Event()

        def work() -> None:
            while not stop.is_set():
                with queue_lock:
                    taken = next(queue, None)
                if taken is None:
                    return
                results[taken[0]] = self._fetch_and_report(taken[1])

        workers = [self._pool.submit(work) for _ in range(min(self.config.max_workers, len(pending)))]
        try:
            for worker in workers:
                worker.result()
        except BaseException:
            stop.set()
            raise
        return results

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for session in self._sessions:
            session.close()

    def __enter__(self) -> PmuClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
