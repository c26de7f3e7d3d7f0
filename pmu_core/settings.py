"""Settings read from the environment at call time (never at import time).

PMU_HOME          where local state lives (embedded database, model artifacts); default `<repo>/.pmu`
PMU_DATABASE_URL  a PostgreSQL URL; when unset, an embedded server is started under PMU_HOME/pg
PMU_API_BASE_URL  base URL of the PMU turfinfo API (or of the replay server)
PMU_NOW           the pipeline's clock (schedule, sensors, race clock, checks): an ISO instant
                  (`2025-11-30T14:00:00+01:00`; without an offset, Paris time) at which it stands
                  still; unset: the wall clock
PMU_CLOCK_OFFSET_SECONDS  a clock that runs: the wall clock shifted by this many seconds (set by
                  `pmu ui --now`, so that every Dagster process shares it); PMU_NOW wins over it
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pmu_core.facts import LIVE_API_BASE_URL, PARIS

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None
    api_base_url: str

    @property
    def pgdata(self) -> Path:
        return self.home / "pg"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"


def load_settings() -> Settings:
    home = Path(os.environ.get("PMU_HOME") or PROJECT_ROOT / ".pmu").expanduser().resolve()
    return Settings(
        home=home,
        database_url=os.environ.get("PMU_DATABASE_URL") or None,
        api_base_url=(os.environ.get("PMU_API_BASE_URL") or LIVE_API_BASE_URL).rstrip("/"),
    )


def shared_pmu_dir() -> Path:
    """The folder of real recorded PMU bodies (`../shared/pmu` beside the checkout), or
    PMU_SHARED_DIR. It may be missing on a user's machine: callers decide what that means."""
    override = os.environ.get("PMU_SHARED_DIR")
    return Path(override).resolve() if override else (PROJECT_ROOT.parent / "shared" / "pmu").resolve()


def parse_instant(text: str) -> datetime:
    """An ISO instant; one without an offset is Paris time (race times are)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"not an ISO date-time (e.g. 2025-11-30T14:00:00+01:00): {text!r}") from exc
    return moment.replace(tzinfo=PARIS) if moment.tzinfo is None else moment


def now() -> datetime:
    """The pipeline's clock (UTC): PMU_NOW, else the wall clock plus PMU_CLOCK_OFFSET_SECONDS."""
    frozen = os.environ.get("PMU_NOW")
    if frozen:
        return parse_instant(frozen).astimezone(UTC)
    offset = float(os.environ.get("PMU_CLOCK_OFFSET_SECONDS") or 0)
    return datetime.now(UTC) + timedelta(seconds=offset)


def clock_is_set() -> bool:
    """True when PMU_NOW or PMU_CLOCK_OFFSET_SECONDS moves the clock away from the wall."""
    return bool(os.environ.get("PMU_NOW") or os.environ.get("PMU_CLOCK_OFFSET_SECONDS"))


def is_live_api(base_url: str) -> bool:
    return base_url.rstrip("/") == LIVE_API_BASE_URL


def live_api_warning(base_url: str) -> str | None:
    """The loud line to print when a run would talk to PMU's live API (None otherwise)."""
    if not is_live_api(base_url):
        return None
    return (
        f"*** LIVE API: requests go to {LIVE_API_BASE_URL} (PMU's servers). For recorded or demo "
        "days use --replay DIR or PMU_API_BASE_URL=http://127.0.0.1:PORT (pmu replay-server). ***"
    )
