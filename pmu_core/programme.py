"""The one reader of programme bodies outside dbt: which races a day has, when they start, and
whether they are over. The extractor needs it to know what to fetch, the sensors to know when to
run; everything else in a programme is dbt's business (staging)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from pmu_core.facts import CANCELLED_STATUSES, FINAL_RACE_STATUSES, race_id


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


def _number(value) -> int | None:
    # bool is an int in Python, not a race number
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def start_time(epoch_ms) -> datetime | None:
    """heureDepart (epoch ms) as an aware UTC datetime; None when absent or not a plausible time."""
    if not isinstance(epoch_ms, int | float) or isinstance(epoch_ms, bool):
        return None
    try:
        return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def programme_races(body: Mapping, race_date: date | None = None) -> list[ProgrammeRace]:
    """Races of a programme body by meeting `numOfficiel` and race `numOrdre`, sorted, each once.
    Races without integer numbers are not addressable and are left out. Raises ValueError when the
    body is not a programme."""
    try:
        meetings = body["programme"]["reunions"]
    except (KeyError, TypeError) as exc:
        raise ValueError("not a programme body: no programme.reunions") from exc
    races: dict[tuple[int, int], ProgrammeRace] = {}
    for meeting in meetings or []:
        meeting_num = _number(meeting.get("numOfficiel"))
        for course in meeting.get("courses") or []:
            race_num = _number(course.get("numOrdre"))
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
