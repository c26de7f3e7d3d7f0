"""The extractor's own rules on top of the registry (pmu_core.facts) and the programme parser
(pmu_core.programme): which endpoints a run fetches, which races it asks for, and when a day's
landed bodies are final."""

from __future__ import annotations

from datetime import date, datetime

from pmu_core.facts import ENDPOINT_NAMES, SETTLED_AFTER
from pmu_core.programme import ProgrammeRace


def parse_only(values: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Endpoints to fetch, in the strict order of the registry; None or empty means all.
    Accepts comma-separated items."""
    if not values:
        return ENDPOINT_NAMES
    wanted = {part.strip() for value in values for part in value.split(",") if part.strip()}
    unknown = wanted - set(ENDPOINT_NAMES)
    if unknown:
        raise ValueError(f"unknown endpoint(s) {sorted(unknown)}; known: {', '.join(ENDPOINT_NAMES)}")
    return tuple(name for name in ENDPOINT_NAMES if name in wanted)


def races_to_fetch(
    endpoint: str, races: list[ProgrammeRace], programme_is_fresh: bool
) -> tuple[list[ProgrammeRace], list[ProgrammeRace]]:
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
    races: list[ProgrammeRace] | None,
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
