"""Settings read from the environment at call time (never at import time).

PMU_HOME          where local state lives (embedded database, model artifacts); default `<repo>/.pmu`
PMU_DATABASE_URL  a PostgreSQL URL; when unset, an embedded server is started under PMU_HOME/pg
PMU_API_BASE_URL  base URL of the PMU turfinfo API (or of the replay server)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pmu_core.facts import LIVE_API_BASE_URL

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
