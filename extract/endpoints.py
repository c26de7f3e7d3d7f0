"""The four endpoints: their API paths, their raw tables, and the little the extractor must read
from a programme (which races exist, and whether they are over). Everything else in the bodies is
dbt's business."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

ENDPOINTS = ("programme", "participants", "performances", "rapports")

RAW_TABLES = {
    "programme": "pmu_programme",
    "participants": "pmu_participants",
    "performances": "pmu_performances",
    "rapports": "pmu_rapports",
}

_RACE_SUFFIX = {
    "participants": "participants",
    "performances": "performances-detaillees/pretty",
    "rapports": "rapports-definitifs",
}

# Statuses after which a race's bodies no longer change. FIN_COURSE alone is not enough: the
# arrival may still be provisional; `arriveeDefinitive` says so explicitly.
FINAL_RACE_STATUSES = frozenset({"ARRIVEE_DEFINITIVE", "ARRIVEE_DEFINITIVE_COMPLETE", "COURSE_ANNULEE"})

# A day served this long after its date is history: the API does not change it any more, whatever
# the statuses say (old days keep odd statuses such as PROGRAMMEE for races that did run).
SETTLED_AFTER = timedelta(days=3)


def day_code(day: date) -> str:
    """The API's DDMMYYYY."""
    return day.strftime("%d%m%Y")


def api_path(endpoint: str, day: date, meeting: int | None = None, race: int | None = None) -> str:
    """Path after `/rest/client/{n}/programme/`."""
    if endpoint == "programme":
        return day_code(day)
    if endpoint not in _RACE_SUFFIX:
        raise ValueError(f"unknown endpoint {endpoint!r}; known: {ENDPOINTS}")
    if meeting is None or race is None:
        raise ValueError(f"{endpoint} needs a meeting and a race number")
    return f"{day_code(day)}/R{meeting}/C{race}/{_RACE_SUFFIX[endpoint]}"


def parse_only(values: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Endpoints to fetch, in the strict order of ENDPOINTS; None or empty means all.
    Accepts comma-separated items."""
    if not values:
        return ENDPOINTS
    wanted = {part.strip() for value in values for part in value.split(",") if part.strip()}
    unknown = wanted - set(ENDPOINTS)
    if unknown:
        raise ValueError(f"unknown endpoint(s) {sorted(unknown)}; known: {', '.join(ENDPOINTS)}")
    return tuple(endpoint for endpoint in ENDPOINTS if endpoint in wanted)


@dataclass(frozen=True)
class Race:
    meeting: int
    race: int
    status: str | None
    is_over: bool
    rapports_available: bool | None = None  # the programme's rapportsDefinitifsDisponibles, if a bool


def races_in_programme(body: dict) -> list[Race]:
    """Races of a programme body, by meeting `numOfficiel` and race `numOrdre`, sorted. Raises
    ValueError when the body is not a programme."""
    try:
        meetings = body["programme"]["reunions"]
    except (KeyError, TypeError) as exc:
        raise ValueError("not a programme body: no programme.reunions") from exc
    races = set()
    for meeting in meetings or []:
        meeting_num = meeting.get("numOfficiel")
        for course in meeting.get("courses") or []:
            race_num = course.get("numOrdre")
            if not isinstance(meeting_num, int) or not isinstance(race_num, int):
                continue  # not addressable: nothing to fetch for it
            status = course.get("statut")
            is_over = course.get("arriveeDefinitive") is True or status in FINAL_RACE_STATUSES
            available = course.get("rapportsDefinitifsDisponibles")
            races.add(
                Race(
                    meeting_num, race_num, status, is_over, available if isinstance(available, bool) else None
                )
            )
    return sorted(races, key=lambda r: (r.meeting, r.race))


def races_to_fetch(
    endpoint: str, races: list[Race], programme_is_fresh: bool
) -> tuple[list[Race], list[Race]]:
    """(races to ask for `endpoint`, races not asked). A programme fetched in this very run that
    says a race's rapports are not available (`rapportsDefinitifsDisponibles: false`, e.g. a race not
    run yet) spares asking for them: the API would answer 204. An older programme (a run with
    `only=[rapports]` reads the latest landed one, perhaps the morning's) is not trusted for that."""
    if endpoint != "rapports" or not programme_is_fresh:
        return list(races), []
    asked = [race for race in races if race.rapports_available is not False]
    return asked, [race for race in races if race.rapports_available is False]


def day_is_final(
    day: date,
    races: list[Race] | None,
    programme_served_at: datetime | None,
    complete: bool,
    races_not_asked: int = 0,
) -> bool:
    """Whether a day's landed bodies are final, so that a resumed backfill may skip it: a run
    fetched every body of the day without failure (`complete`), after either every race of its
    programme was over (and none left unasked, `races_not_asked`), or the day was history (served
    SETTLED_AFTER past its date; then even a day without a programme is final)."""
    if not complete:
        return False
    settled = programme_served_at is not None and programme_served_at.date() >= day + SETTLED_AFTER
    if races is None:  # no programme published
        return settled
    return settled or (bool(races) and not races_not_asked and all(race.is_over for race in races))
