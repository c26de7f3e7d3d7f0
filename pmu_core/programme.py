"""The one reader of programme bodies outside dbt: which races a day has, when they start, and
whether they are over. The extractor needs it to know what to fetch, the sensors to know when to
run; everything else in a programme is dbt's business (staging)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

import orjson

from pmu_core.facts import CANCELLED_STATUSES, FINAL_RACE_STATUSES, race_id

# Deeper than this a body is refused (orjson's own limit): no real body nests past a dozen levels,
# and a hostile one would blow Python's recursion limit (json) or PostgreSQL's stack (54001).
MAX_JSON_DEPTH = 1024


def load_json(data: bytes | str | None):
    """A body parsed (orjson), or None when it is not JSON or nests deeper than MAX_JSON_DEPTH.
    Never raises RecursionError, unlike json.loads on a hostile body."""
    if data is None:
        return None
    try:
        return orjson.loads(data)
    except (ValueError, TypeError):  # orjson.JSONDecodeError is a ValueError
        return None


@dataclass(frozen=True, order=True)
class ProgrammeRace:
    race_date: date | None  # the day of the URL the programme came from (None: not needed)
    meeting_num: int  # the meeting's numOfficiel (R{n})
    race_num: int  # the race's numOrdre (C{n})
    start_at: datetime | None = None  # heureDepart, aware UTC; None when absent or out of range
    status: str | None = None
    is_over: bool = False  # arriveeDefinitive, or a status after which the bodies no longer change
    rapports_available: bool | None = None  # rapportsDefinitifsDisponibles, when a bool

    @property
    def key(self) -> tuple[date | None, int, int]:
        return (self.race_date, self.meeting_num, self.race_num)

    @property
    def race_id(self) -> str:
        if self.race_date is None:
            raise ValueError("a race without its day has no race_id")
        return race_id(self.race_date, self.meeting_num, self.race_num)

    @property
    def cancelled(self) -> bool:
        return self.status in CANCELLED_STATUSES


def race_number(value) -> int | None:
    """A meeting or race number as served: an int, or what is unambiguously one (`2.0`, `"2"`,
    `" 2 "`); None otherwise (bool, `1.5`, `"2a"`, absent)."""
    if isinstance(value, bool):  # bool is an int in Python, not a race number
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def start_time(epoch_ms) -> datetime | None:
    """heureDepart (epoch ms) as an aware UTC datetime; None when absent or not a plausible time."""
    if not isinstance(epoch_ms, int | float) or isinstance(epoch_ms, bool):
        return None
    try:
        return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _meetings(body) -> list:
    try:
        meetings = body["programme"]["reunions"]
    except (KeyError, TypeError) as exc:
        raise ValueError("not a programme body: no programme.reunions") from exc
    if meetings is not None and not isinstance(meetings, list):
        raise ValueError("not a programme body: programme.reunions is not a list")
    return meetings or []


def _courses(meeting) -> list:
    courses = meeting.get("courses") if isinstance(meeting, Mapping) else None
    return courses if isinstance(courses, list) else []


def unaddressable_races(body: Mapping) -> list[str]:
    """What a programme lists that programme_races cannot address, one line each: a meeting or
    race whose number is not a number (race_number), or a meeting or race that is not an object.
    The extractor reports them as failures, so that the day is never marked final without them.
    Raises ValueError when the body is not a programme."""
    problems = []
    for m_index, meeting in enumerate(_meetings(body)):
        if not isinstance(meeting, Mapping):
            problems.append(f"reunions[{m_index}] is not an object")
            continue
        meeting_num = race_number(meeting.get("numOfficiel"))
        for c_index, course in enumerate(_courses(meeting)):
            if not isinstance(course, Mapping):
                problems.append(f"reunions[{m_index}].courses[{c_index}] is not an object")
                continue
            race_num = race_number(course.get("numOrdre"))
            if meeting_num is None or race_num is None:
                problems.append(
                    f"reunions[{m_index}].courses[{c_index}]: numOfficiel "
                    f"{meeting.get('numOfficiel')!r}, numOrdre {course.get('numOrdre')!r} not race numbers"
                )
    return problems


def programme_races(body: Mapping, race_date: date | None = None) -> list[ProgrammeRace]:
    """Races of a programme body by meeting `numOfficiel` and race `numOrdre`, sorted, each once.
    Numbers served as `"2"` or `2.0` are read as 2 (race_number); races without usable numbers
    are not addressable and are left out (unaddressable_races lists them). Raises ValueError when
    the body is not a programme."""
    races: dict[tuple[int, int], ProgrammeRace] = {}
    for meeting in _meetings(body):
        if not isinstance(meeting, Mapping):
            continue
        meeting_num = race_number(meeting.get("numOfficiel"))
        for course in _courses(meeting):
            if not isinstance(course, Mapping):
                continue
            race_num = race_number(course.get("numOrdre"))
            if meeting_num is None or race_num is None or (meeting_num, race_num) in races:
                continue
            status = course.get("statut")
            available = course.get("rapportsDefinitifsDisponibles")
            races[(meeting_num, race_num)] = ProgrammeRace(
                race_date=race_date,
                meeting_num=meeting_num,
                race_num=race_num,
                start_at=start_time(course.get("heureDepart")),
                status=status,
                is_over=course.get("arriveeDefinitive") is True or status in FINAL_RACE_STATUSES,
                rapports_available=available if isinstance(available, bool) else None,
            )
    return [races[key] for key in sorted(races)]
