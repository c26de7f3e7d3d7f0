"""Typed Dagster resources: the warehouse database, the PMU API client and dbt.

Values come from the environment through `EnvVar` (resolved when a run starts, not at import);
unset values fall back to the project's settings at run time, so the same definitions point at
the live API, a replay server in tests, the embedded PostgreSQL or any other server.
dagster-dbt (which imports dbt) is imported only where dbt is used, so that the raw assets, the
sensors and the checks do not pay for it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from pmu_core import db
from pmu_core.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from dagster_dbt import DbtProject

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


class PostgresResource(dg.ConfigurableResource):
    """The warehouse. `url` unset means what `pmu_core.db.database_url()` says at run time
    (PMU_DATABASE_URL, else the embedded server, started if needed)."""

    url: str | None = Field(default=None, description="libpq URL; unset: PMU_DATABASE_URL or embedded")

    def get_url(self) -> str:
        return self.url or db.database_url()

    @contextmanager
    def connection(self):
        with db.connection(self.get_url()) as conn:
            yield conn

    @contextmanager
    def dbt_environment(self) -> Iterator[dict[str, str]]:
        """Point dbt (a subprocess reading os.environ through profiles.yml) at this database for
        the duration of the block, then restore the environment."""
        values = db.dbt_env(self.get_url())
        saved = {key: os.environ.get(key) for key in values}
        os.environ.update(values)
        try:
            yield values
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


class PmuApiResource(dg.ConfigurableResource):
    """The PMU turfinfo API (or a replay server): address, politeness and timeouts."""

    base_url: str | None = Field(default=None, description="unset: PMU_API_BASE_URL or the live API")
    client: int = Field(default=1, description="client number in the URL (1, 7, 61)")
    requests_per_second: float | None = Field(default=4.0, description="global rate limit; null = none")
    max_workers: int = Field(default=2, description="concurrent requests (as `pmu ingest`)")
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    max_attempts: int = 5

    def client_config(self):
        from extract.client import ClientConfig  # extraction is plain Python: imported where used

        overrides = {
            "client": self.client,
            "requests_per_second": self.requests_per_second,
            "max_workers": self.max_workers,
            "connect_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
            "max_attempts": self.max_attempts,
        }
        if self.base_url:
            overrides["base_url"] = self.base_url.rstrip("/")
        return ClientConfig.from_env(**overrides)


def _env_or_none(name: str) -> dg.EnvVar | None:
    # An EnvVar that is unset fails the run; leaving the field unset lets the resource fall back
    # to the project's own default at run time instead.
    return dg.EnvVar(name) if os.environ.get(name) else None


def dbt_executable() -> str:
    """dbt from this interpreter's environment (the venv need not be activated), else PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return os.fspath(beside) if beside.exists() else "dbt"


def dbt_project() -> DbtProject:
    from dagster_dbt import DbtProject

    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def default_resources(project: DbtProject) -> dict[str, dg.ConfigurableResource]:
    from orchestration.dbt_assets import WarehouseDbtCli

    return {
        "postgres": PostgresResource(url=_env_or_none("PMU_DATABASE_URL")),
        "pmu_api": PmuApiResource(base_url=_env_or_none("PMU_API_BASE_URL")),
        "dbt": WarehouseDbtCli(
            project_dir=project,
            profiles_dir=os.fspath(Path(project.profiles_dir)),
            dbt_executable=dbt_executable(),
        ),
    }
