"""Ingest PMU days: fetch the four endpoints in strict order (programme, then participants,
performances-detaillees/pretty and rapports-definitifs of every race of that programme) and land
the bodies untouched (extract/landing.py).

Within an endpoint the races are fetched concurrently; between endpoints the order is strict
(fetches in order, landings in order, on one landing thread), but landings run behind the
fetches: an endpoint lands while the next ones are fetched, and the next day is fetched while a
day's last batches land (never more than one day ahead). The
race list comes from the latest programme: this run's, or the latest landed one when this run got
none (204, failure, unparsable body, `only=[...]` without the programme). Rapports of races that
this run's programme announces as not available yet (`rapportsDefinitifsDisponibles: false`) are
not asked for (the API would answer 204); the day is then not final, unless those races were
cancelled.

A body the database refuses as jsonb is recorded in raw.rejected_bodies and, when the fault looks
like transport (a syntax error: truncated, garbled), fetched again, up to `max_attempts` rounds.

Resumable backfills: after a full ingest of a day, raw.day_runs records whether the day is final
(endpoints.day_is_final: no failure, and every race of the programme over, or the day served more
than three days after its date). `backfill` skips final days, so a rerun after a crash or Ctrl-C
fetches only what is missing or may still change; what it fetches again and finds unchanged is
not stored twice.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

import psycopg2
from psycopg2 import sql
from tqdm import tqdm

from extract import EXTRACTOR_VERSION
from extract.client import ClientConfig, FetchResult, PmuClient, backoff_delay
from extract.endpoints import day_is_final, parse_only, races_to_fetch
from extract.landing import BatchOutcome, BodyKey, Lander, ensure_raw_tables, precheck_body
from pmu_core import db
from pmu_core.facts import CANCELLED_STATUSES, ENDPOINT_NAMES, RAW_SCHEMA, RAW_TABLES, api_path
from pmu_core.programme import ProgrammeRace, load_json, programme_races, unaddressable_races

__all__ = [
    "COUNT_FIELDS",
    "BackfillInterrupted",
    "BackfillReport",
    "DayReport",
    "backfill",
    "ensure_raw_tables",
    "ingest_day",
    "ingest_days",
    "merge_reports",
]

# How many times in a row a body may come back with the same rejected bytes before it is given up.
IDENTICAL_REJECTIONS = 3
LANDED = ("new", "unchanged")  # the outcomes after which a body is in raw

# The counters a day report adds to a total (BackfillReport.add, merge_reports).
COUNT_FIELDS = (
    "races",
    "requests",
    "bodies_new",
    "bodies_unchanged",
    "not_published",
    "not_announced",
    "rejected",
    "bytes_landed",
)


@dataclass
class DayReport:
    """What one day's ingest did. The fetch thread and the landing thread both add counts and
    failures: those go through `count` and `fail`, under the report's lock. `endpoints` is set
    before the day's first landing is queued, `is_final` by the day's last job (`_finish_day`)."""

    day: date
    days: int = 1
    races: int = 0
    requests: int = 0  # URLs fetched (each after its retries)
    bodies_new: int = 0
    bodies_unchanged: int = 0
    not_published: int = 0
    not_announced: int = 0  # rapports the fresh programme said are not available: not asked
    rapports_awaited: int = 0  # of those, races not cancelled: their rapports may still come
    rejected: int = 0  # bodies refused as jsonb (kept in raw.rejected_bodies), retried or not
    failed: list[dict] = field(default_factory=list)  # {url, reason}: nothing landed for that URL
    warnings: list[str] = field(default_factory=list)  # e.g. a day whose races gave no body at all
    bytes_landed: int = 0  # bytes of the new bodies stored
    is_final: bool = False  # assessed after a full ingest only (all endpoints)
    endpoints: list[str] = field(default_factory=lambda: list(ENDPOINT_NAMES))

    def __post_init__(self) -> None:
        self._lock = threading.Lock()  # not a field: asdict and comparisons leave it out

    def count(self, **increments: int) -> None:
        """Add to counters (field name = increment)."""
        with self._lock:
            for name, value in increments.items():
                setattr(self, name, getattr(self, name) + value)

    def fail(self, url: str, reason: str) -> None:
        """Record a URL for which nothing landed."""
        with self._lock:
            self.failed.append({"url": url, "reason": reason})

    def warn(self, message: str) -> None:
        with self._lock:
            self.warnings.append(message)

    def as_dict(self) -> dict:
        with self._lock:
            data = asdict(self)
        data["day"] = self.day.isoformat()
        return data


@dataclass
class BackfillReport:
    start: date
    end: date
    days: int = 0  # days in the range
    days_skipped: int = 0  # already landed and final
    days_final: int = 0  # final after this run (skipped ones included)
    races: int = 0
    requests: int = 0
    bodies_new: int = 0
    bodies_unchanged: int = 0
    not_published: int = 0
    not_announced: int = 0
    rejected: int = 0
    failed: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bytes_landed: int = 0

    def add(self, day: DayReport) -> None:
        """Add a day's COUNT_FIELDS, failures, warnings and finality (not `days`: the range's)."""
        with day._lock:
            for name in COUNT_FIELDS:
                setattr(self, name, getattr(self, name) + getattr(day, name))
            self.failed.extend(day.failed)
            self.warnings.extend(day.warnings)
            self.days_final += day.is_final

    def as_dict(self) -> dict:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data


def merge_reports(
    reports: Iterable[DayReport], start: date | None = None, end: date | None = None
) -> BackfillReport:
    """The total of day reports (one per day, or several passes of a day): COUNT_FIELDS summed,
    failures in order, `days` the distinct days reported, `days_final` the reports found final.
    `start` and `end` default to the first and last day reported; without reports they are needed."""
    reports = list(reports)
    days = sorted({report.day for report in reports})
    if not days and (start is None or end is None):
        raise ValueError("merge_reports of no reports needs start and end")
    total = BackfillReport(start=start or days[0], end=end or days[-1], days=len(days))
    for report in reports:
        total.add(report)
    return total


class BackfillInterrupted(KeyboardInterrupt):
    """Ctrl-C during a backfill; `report` says what was done. Every finished batch is committed."""

    def __init__(self, report: BackfillReport) -> None:
        super().__init__("backfill interrupted")
        self.report = report


def days_eta(done: int, total: int, elapsed_seconds: float) -> str:
    """Time left at the pace so far, as H:MM:SS ("?" before the first day is done)."""
    if done <= 0:
        return "?"
    left = round(elapsed_seconds / done * max(total - done, 0))
    return f"{left // 3600}:{left % 3600 // 60:02d}:{left % 60:02d}"


class Progress:
    """tqdm on stderr: URLs done, MB received, errors (failed fetches and rejected bodies)."""

    def __init__(self, enabled: bool, desc: str = "", days_total: int | None = None) -> None:
        self.days_total = days_total  # a backfill: days done of this many, with an ETA
        self.days_done = 0
        self.started = time.monotonic()
        self.bar = tqdm(
            total=None,
            unit="req",
            desc=desc,
            file=sys.stderr,
            disable=not enabled,
            mininterval=0.25,
            dynamic_ncols=True,
        )
        self.bytes = 0
        self.errors = 0
        self._lock = threading.Lock()

    def __call__(self, result: FetchResult) -> None:
        with self._lock:
            self.bytes += len(result.body or b"")
            self.errors += result.status == "failed"
            self.bar.update(1)
            self._postfix()

    def add_errors(self, count: int) -> None:
        if count:
            with self._lock:
                self.errors += count
                self._postfix()

    def day_done(self) -> None:
        with self._lock:
            self.days_done += 1
            self._postfix()

    def _postfix(self) -> None:
        text = f"{self.bytes / 1e6:.1f} MB, {self.errors} errors"
        if self.days_total:
            eta = days_eta(self.days_done, self.days_total, time.monotonic() - self.started)
            text = f"day {self.days_done}/{self.days_total}, ETA {eta}, {text}"
        self.bar.set_postfix_str(text, refresh=False)

    def describe(self, text: str) -> None:
        self.bar.set_description_str(text, refresh=False)

    def close(self) -> None:
        self.bar.close()


def _land_rounds(
    client: PmuClient,
    lander: Lander,
    items: list[tuple[str, BodyKey]],
    results: list[FetchResult],
    report: DayReport,
    progress: Progress | None,
) -> dict[BodyKey, tuple[str, FetchResult]]:
    """Land one endpoint's fetched `results` (of `items`); rejected bodies whose fault looks like
    transport are fetched again, up to `max_attempts` rounds. A body rejected with the same bytes
    as last time may still be a cut transfer (a proxy cutting at a fixed size): it is asked again
    after a backoff, at most IDENTICAL_REJECTIONS times in all. Returns each key's final
    (outcome, result)."""
    config = client.config
    final: dict[BodyKey, tuple[str, FetchResult]] = {}
    last_reject: dict[BodyKey, str] = {}
    identical: dict[BodyKey, int] = {}
    pending = items
    for round_num in range(1, config.max_attempts + 1):
        if round_num > 1:
            repeats = max((identical.get(tag, 1) for _, tag in pending), default=1)
            if repeats > 1:  # the same broken bytes again: give the other end time
                base, cap = config.backoff_base_seconds, config.backoff_max_seconds
                delay = backoff_delay(repeats - 1, base, cap, 0.5)
                time.sleep(delay)
            results = client.fetch_many(pending)
        batch = lander.land(results)
        _count_batch(report, results, batch)
        if progress is not None:
            progress.add_errors(len(batch.rejections))
        retry = []
        for idx, (result, outcome) in enumerate(zip(results, batch.outcomes, strict=True)):
            key = result.tag
            final[key] = (outcome, result)
            rejection = batch.rejections.get(idx)
            if rejection is None or not rejection.retryable:
                continue
            same = last_reject.get(key) == rejection.sha256
            identical[key] = identical.get(key, 1) + 1 if same else 1
            last_reject[key] = rejection.sha256
            if round_num < config.max_attempts and identical[key] < IDENTICAL_REJECTIONS:
                retry.append(pending[idx])
        if not retry:
            break
        pending = retry
    for outcome, result in final.values():
        if outcome == "failed":
            report.fail(result.url, result.reason or "failed")
        elif outcome == "rejected":
            report.fail(result.url, "body rejected, see raw.rejected_bodies")
    return final


def _count_batch(report: DayReport, results: list[FetchResult], batch: BatchOutcome) -> None:
    report.count(
        requests=len(results),
        bodies_new=batch.count("new"),
        bodies_unchanged=batch.count("unchanged"),
        not_published=batch.count("not_published"),
        rejected=len(batch.rejections),
        bytes_landed=batch.bytes_new,
    )


def _latest_landed_programme(lander: Lander, day: date) -> tuple[dict, datetime | None] | None:
    with lander.conn, lander.conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "select body::text, served_at from {} where race_date = %s order by raw_id desc limit 1"
            ).format(sql.Identifier(RAW_SCHEMA, RAW_TABLES["programme"])),
            (day,),
        )
        row = cur.fetchone()
    if row is None:
        return None
    body = load_json(row[0])
    return (body, row[1]) if isinstance(body, dict) else None


def _programme_of_this_run(
    day: date,
    client: PmuClient,
    lander: Lander,
    report: DayReport,
    progress: Progress | None,
    landing: ThreadPoolExecutor,
) -> tuple[dict | None, datetime | None, Future | None]:
    """Fetch the day's programme. When its body parses (and passes the landing's precheck), the
    races are read from it straight away and it is queued for landing (returned future) while the
    races' endpoints are fetched: their landings wait for its outcome (_land_after_programme);
    otherwise it lands now, with its retry rounds, and the body that landed (if any) is used."""
    key = BodyKey("programme", day, None, None)
    items = [(api_path("programme", day), key)]
    results = client.fetch_many(items)
    result = results[0]
    if result.status == "ok" and precheck_body(result.body) is None:
        body = load_json(result.body)  # orjson: 1.4 ms against json's 3.7 ms on a 0.5 MB programme
        if isinstance(body, dict):
            return (
                body,
                result.served_at,
                landing.submit(_land_rounds, client, lander, items, results, report, progress),
            )
    outcome, result = landing.submit(_land_rounds, client, lander, items, results, report, progress).result()[
        key
    ]
    body = load_json(result.body) if outcome in LANDED else None
    return (body if isinstance(body, dict) else None), result.served_at, None


def _land_after_programme(
    programme_landing: Future | None,
    client: PmuClient,
    lander: Lander,
    items: list[tuple[str, BodyKey]],
    results: list[FetchResult],
    report: DayReport,
    progress: Progress | None,
) -> dict[BodyKey, tuple[str, FetchResult]]:
    """Land a race endpoint's bodies, unless the programme they were asked from (this run's, read
    before it landed) was refused by the database: races read from a body that is not in raw
    would land runners with no programme row. Then each URL is a failure, and the day not final."""
    if programme_landing is not None:
        (outcome, programme), *_ = programme_landing.result().values()
        if outcome not in LANDED:
            for _, result in zip(items, results, strict=True):
                report.fail(
                    result.url,
                    f"not landed: the programme it was asked from ({programme.url}) was {outcome}",
                )
            return {}
    return _land_rounds(client, lander, items, results, report, progress)


def _record_day_run(lander: Lander, day: date, report: DayReport, served_at: datetime | None) -> None:
    with lander.conn, lander.conn.cursor() as cur:
        cur.execute(
            """
            insert into raw.day_runs (run_id, race_date, client, finished_at, races, failed, is_complete,
                                      is_final, programme_served_at, extractor_version)
            values (%s, %s, %s, now(), %s, %s, %s, %s, %s, %s)
        """,
            (
                str(lander.run_id),
                day,
                lander.client,
                report.races,
                len(report.failed),
                not report.failed,
                report.is_final,
                served_at,
                EXTRACTOR_VERSION,
            ),
        )


def _finish_day(
    landings: list[Future],
    day: date,
    endpoints: Sequence[str],
    races: list[ProgrammeRace] | None,
    served_at: datetime | None,
    lander: Lander,
    report: DayReport,
) -> DayReport:
    """The day's last job on the landing thread, after all its landings (one thread, in order):
    a landing that raised stops here, before the day is recorded as run. A day whose programme
    lists races but whose races gave no body at all (every URL 204: a replay folder not readable,
    a site outage) is a warning and never final: a later run must ask again."""
    race_bodies = 0
    for landed in landings:
        outcomes = landed.result()
        race_bodies += sum(
            key.endpoint != "programme" and outcome in LANDED for key, (outcome, _) in outcomes.items()
        )
    nothing_landed = bool(races) and race_bodies == 0 and len(endpoints) > 1
    if nothing_landed:
        report.warn(f"{day}: the programme lists {len(races)} races but none of them gave a body")
    if tuple(endpoints) == ENDPOINT_NAMES:
        report.is_final = not nothing_landed and day_is_final(
            day, races, served_at, complete=not report.failed, races_not_asked=report.rapports_awaited
        )
        _record_day_run(lander, day, report, served_at)
    return report


def _start_day(
    day: date,
    endpoints: Sequence[str],
    client: PmuClient,
    lander: Lander,
    progress: Progress | None,
    report: DayReport,
    landing: ThreadPoolExecutor,
    race_ids: Collection[str] | None = None,
) -> Future:
    """Fetch one day's endpoints in order on this thread and queue their landings, in the same
    order, on `landing`: the single thread that uses the lander, so that the database work runs
    beside the network and a day's landings, then its raw.day_runs row, follow each other in order
    even while the next day is being fetched. `report` is filled as batches commit (right even when
    interrupted). Returns the future of the day's last job (`_finish_day`)."""
    report.endpoints = list(endpoints)
    if progress is not None:
        progress.describe(day.isoformat())
    landings: list[Future] = []
    programme: dict | None = None
    served_at: datetime | None = None
    programme_landing: Future | None = None  # this run's programme, landing while races are fetched
    if "programme" in endpoints:
        programme, served_at, programme_landing = _programme_of_this_run(
            day, client, lander, report, progress, landing
        )
        if programme_landing is not None:
            landings.append(programme_landing)
    programme_is_fresh = programme is not None
    if programme is None:
        latest = landing.submit(_latest_landed_programme, lander, day).result()
        if latest is not None:
            programme, landed_served_at = latest
            served_at = served_at or landed_served_at
        elif "programme" not in endpoints:
            report.fail(
                client.config.url(api_path("programme", day)),
                f"no programme landed for {day}: ingest the programme first",
            )
    races: list[ProgrammeRace] | None = None
    if programme is not None:
        programme_url = client.config.url(api_path("programme", day))
        try:
            races = programme_races(programme, day)
            unaddressable = unaddressable_races(programme)
        except ValueError as exc:
            report.fail(programme_url, str(exc))
        else:
            for problem in unaddressable:  # the day stays not final: never silently short of races
                report.fail(programme_url, f"race not fetched: {problem}")
    report.count(races=len(races or []))
    for endpoint in endpoints:
        if endpoint == "programme" or not races:
            continue
        asked, not_asked = races_to_fetch(endpoint, races, programme_is_fresh)
        if race_ids is not None:
            asked = [race for race in asked if race.race_id in race_ids]
        report.count(
            not_announced=len(not_asked),
            rapports_awaited=sum(race.status not in CANCELLED_STATUSES for race in not_asked),
        )
        items = [
            (
                api_path(endpoint, day, race.meeting_num, race.race_num),
                BodyKey(endpoint, day, race.meeting_num, race.race_num),
            )
            for race in asked
        ]
        if not items:
            continue
        results = client.fetch_many(items)
        landings.append(
            landing.submit(
                _land_after_programme, programme_landing, client, lander, items, results, report, progress
            )
        )
    # a run limited to some races says nothing of the day's completeness
    recorded = endpoints if race_ids is None else ()
    return landing.submit(_finish_day, landings, day, recorded, races, served_at, lander, report)


def _landing_thread() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="pmu-land")


def _stop_landing(landing: ThreadPoolExecutor) -> None:
    """On an error or Ctrl-C: drop the queued jobs, wait for the one running (its batch commits
    or rolls back whole)."""
    landing.shutdown(wait=True, cancel_futures=True)


def _resolve_db(db_url: str | None) -> str:
    url = db_url or db.ensure_database()
    ensure_raw_tables(url)  # idempotent, a few ms: cheaper than trusting a cache across resets
    return url


def ingest_day(
    day: date,
    *,
    config: ClientConfig,
    db_url: str | None = None,
    only: Sequence[str] | None = None,
    race_ids: Collection[str] | None = None,
    progress: bool = False,
) -> DayReport:
    """Fetch and land one day (all endpoints, or `only` those, still in their strict order);
    `race_ids` limits the per-race endpoints to those races of the programme (the pre-race odds
    snapshots), and such a run never marks the day final."""
    endpoints = parse_only([only] if isinstance(only, str) else list(only) if only else None)
    url = _resolve_db(db_url)
    bar = Progress(progress, day.isoformat())
    try:
        with PmuClient(config, on_result=bar) as client, Lander(url, config.client) as lander:
            landing = _landing_thread()
            try:
                report = DayReport(day=day)
                return _start_day(day, endpoints, client, lander, bar, report, landing, race_ids).result()
            finally:
                _stop_landing(landing)
    finally:
        bar.close()


def final_days(db_url: str, start: date, end: date, client: int) -> set[date]:
    """Days of [start, end] that a previous run landed completely and found final."""
    conn = psycopg2.connect(db_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "select distinct race_date from raw.day_runs "
                "where client = %s and is_final and race_date between %s and %s",
                (client, start, end),
            )
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()


def backfill(
    start: date,
    end: date,
    *,
    config: ClientConfig,
    db_url: str | None = None,
    progress: bool = True,
    refetch_final: bool = False,
) -> BackfillReport:
    """Ingest every day of [start, end] (end inclusive), skipping days already landed and final
    (unless `refetch_final`: e.g. landing another recording of the same days)."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    url = _resolve_db(db_url)
    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    skip = set() if refetch_final else final_days(url, start, end, config.client)
    return _run_days(days, skip, config, url, progress)


def ingest_days(
    days: Sequence[date], *, config: ClientConfig, db_url: str | None = None, progress: bool = False
) -> BackfillReport:
    """Ingest the given days in order (all endpoints, none skipped) with one client and one
    database connection for all of them."""
    if not days:
        raise ValueError("no days to ingest")
    return _run_days(sorted(days), set(), config, _resolve_db(db_url), progress)


def _run_days(
    days: list[date], skip: set[date], config: ClientConfig, url: str, progress: bool
) -> BackfillReport:
    """Days one after the other, with one day of overlap: day N+1 is fetched while day N's last
    batches land (the landing thread keeps days in order); day N+2 waits until day N is recorded,
    so the network never runs more than a day ahead of the database."""
    report = BackfillReport(start=days[0], end=days[-1], days=len(days))
    bar = Progress(progress, "backfill", days_total=sum(day not in skip for day in days))
    started: list[tuple[DayReport, Future | None]] = []  # days begun, not yet added to the report

    def add_finished(keep: int) -> None:
        while len(started) > keep:
            started[0][1].result()
            report.add(started.pop(0)[0])
            bar.day_done()

    try:
        with PmuClient(config, on_result=bar) as client, Lander(url, config.client) as lander:
            landing = _landing_thread()
            try:
                for day in days:
                    if day in skip:
                        report.days_skipped += 1
                        report.days_final += 1
                        continue
                    add_finished(keep=1)
                    current = DayReport(day=day)
                    started.append((current, None))  # counted even if interrupted while fetching
                    started[-1] = (
                        current,
                        _start_day(day, ENDPOINT_NAMES, client, lander, bar, current, landing),
                    )
                add_finished(keep=0)
            finally:
                _stop_landing(landing)
    except KeyboardInterrupt as exc:
        for day_report, _ in started:  # days in progress: their committed batches count
            report.add(day_report)
        raise BackfillInterrupted(report) from exc
    finally:
        bar.close()
    return report
