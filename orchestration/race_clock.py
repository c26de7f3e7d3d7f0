"""What should run now, as pure functions of race start times and a clock.

The sensors only gather inputs (the latest programme of each watched day, which races already
have their rapports) and turn the answers of these functions into run requests, so the timing
rules are tested directly with a simulated clock. No Dagster here: importing this module is cheap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

from pmu_core.facts import PARIS
from pmu_core.programme import ProgrammeRace, programme_races

# Results: PMU publishes the arrival a few minutes after the finish and the definitive rapports
# later still; ask from `RESULTS_SETTLE` after the start, again every `RESULTS_RETRY`, and stop
# asking after `RESULTS_GIVE_UP` (a race whose rapports never come must not poll forever).
RESULTS_SETTLE = timedelta(minutes=10)
RESULTS_RETRY = timedelta(minutes=15)
RESULTS_GIVE_UP = timedelta(hours=6)
# Odds: a participants snapshot of each race every `ODDS_EVERY` from the morning run (`ODDS_FROM`,
# Paris) until `ODDS_NEAR` before its start, then every `ODDS_NEAR_EVERY` until the off: the price a
# bettor gets is the last one, so the refreshes crowd there.
ODDS_FROM = time(8, 0)
ODDS_EVERY = timedelta(minutes=10)
ODDS_NEAR = timedelta(minutes=10)
ODDS_NEAR_EVERY = timedelta(minutes=1)

# A race of a programme as the clock sees it: RaceStart(day, meeting, number, start_at, status),
# with .key, .race_id and .cancelled (pmu_core.programme reads the bodies).
RaceStart = ProgrammeRace


def races_from_programme(body: Mapping, race_date: date) -> list[RaceStart]:
    """The races of a programme body that have a start time (nothing can be scheduled for the
    others), sorted. `race_date` is the day of the URL the body came from. A body that is not a
    programme has no races."""
    try:
        races = programme_races(body, race_date)
    except ValueError:
        return []
    return [r for r in races if r.start_at is not None]


def paris_day(moment: datetime) -> date:
    return moment.astimezone(PARIS).date()


def days_to_watch(now: datetime) -> list[date]:
    """Yesterday and today in Paris: a late race's results arrive after midnight."""
    today = paris_day(now)
    return [today - timedelta(days=1), today]


def morning_partition_key(scheduled_at: datetime) -> str:
    """The partition a morning tick works on: the Paris day of the tick."""
    return paris_day(scheduled_at).isoformat()


def results_pending(
    races: Iterable[RaceStart],
    landed: set[tuple[date, int, int]],
    now: datetime,
    *,
    settle: timedelta = RESULTS_SETTLE,
    give_up: timedelta = RESULTS_GIVE_UP,
) -> list[RaceStart]:
    """Races whose results should be fetched now: started at least `settle` ago, less than
    `give_up` ago, not cancelled, and without a rapports body yet."""
    return sorted(
        r
        for r in races
        if not r.cancelled and r.key not in landed and r.start_at + settle <= now < r.start_at + give_up
    )


def results_run_key(
    day: date,
    pending: Sequence[RaceStart],
    now: datetime,
    *,
    settle: timedelta = RESULTS_SETTLE,
    retry: timedelta = RESULTS_RETRY,
) -> str:
    """One run per newly due race, then one per `retry` while results are still missing: the key
    names the latest race that became due and how many retry periods have passed since."""
    newest_due = max(r.start_at for r in pending) + settle
    attempt = math.floor((now - newest_due) / retry)
    return f"results-{day.isoformat()}-{newest_due.astimezone(UTC):%H%M}-{attempt}"


def results_requests(
    races: Iterable[RaceStart], landed: set[tuple[date, int, int]], now: datetime
) -> dict[str, str]:
    """partition key -> run key, for each day with races waiting for results."""
    by_day: dict[date, list[RaceStart]] = {}
    for race in results_pending(races, landed, now):
        by_day.setdefault(race.race_date, []).append(race)
    return {day.isoformat(): results_run_key(day, pending, now) for day, pending in sorted(by_day.items())}


def odds_interval(race: RaceStart, now: datetime) -> timedelta | None:
    """How often `race` wants a fresh snapshot at `now`: ODDS_NEAR_EVERY in the last ODDS_NEAR
    before its start, ODDS_EVERY from ODDS_FROM (Paris) of its day until then, None outside (not
    yet, started, or cancelled)."""
    if race.cancelled or now >= race.start_at:
        return None
    if race.start_at - now <= ODDS_NEAR:
        return ODDS_NEAR_EVERY
    if now < datetime.combine(race.race_date, ODDS_FROM, tzinfo=PARIS):
        return None
    return ODDS_EVERY


def _slot(moment: datetime, every: timedelta) -> int:
    return math.floor(moment.timestamp() / every.total_seconds())


def odds_due(races: Iterable[RaceStart], now: datetime, previous: datetime | None) -> list[RaceStart]:
    """The races to snapshot at this tick: those whose interval has a slot boundary between the
    previous tick (`previous`, None: first tick) and `now`. A late or missed tick delays a snapshot,
    it never doubles one; only these races are fetched, not the whole day."""
    due = []
    for race in races:
        every = odds_interval(race, now)
        if every is not None and (previous is None or _slot(now, every) > _slot(previous, every)):
            due.append(race)
    return sorted(due)


def odds_requests(
    races: Iterable[RaceStart], now: datetime, previous: datetime | None
) -> dict[str, tuple[str, list[str]]]:
    """partition key -> (run key, race ids to snapshot), for each day with a race due at this tick.
    The run key names the minute, so a tick evaluated twice asks once."""
    by_day: dict[date, list[str]] = {}
    for race in odds_due(races, now, previous):
        by_day.setdefault(race.race_date, []).append(race.race_id)
    minute = _slot(now, ODDS_NEAR_EVERY)
    return {day.isoformat(): (f"odds-{day.isoformat()}-{minute}", ids) for day, ids in sorted(by_day.items())}


def day_is_over(races: Sequence[RaceStart], now: datetime, *, give_up: timedelta = RESULTS_GIVE_UP) -> bool:
    """Every race of the day started more than `give_up` ago: its results should be in by now."""
    return bool(races) and all(r.start_at + give_up <= now for r in races)
