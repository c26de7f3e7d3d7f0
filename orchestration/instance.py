"""The Dagster instance `pmu ui` runs with: DAGSTER_HOME under PMU_HOME, run/event/schedule
storage in sqlite files there by default, or in the warehouse's PostgreSQL (dagster-postgres)
with PMU_DAGSTER_STORAGE=postgres. Dagster reads that database's URL from PMU_DAGSTER_PG_URL
(set by `pmu ui` and `pmu demo`), so no credential is written to disk.

`open_instance` gives that instance to code that runs in this process (`pmu demo`): what it
records, `pmu ui` shows. Dagster is imported there only."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from pmu_core.settings import Settings

if TYPE_CHECKING:
    import dagster as dg

STORAGE_KINDS = ("sqlite", "postgres")
STORAGE_ENV = "PMU_DAGSTER_STORAGE"
PG_URL_ENV = "PMU_DAGSTER_PG_URL"
# One op at a time per pool: `dbt` (two runs never write the same incremental model at once) and
# `pmu_api` (two runs never double the request rate).
POOL_LIMIT = 1


def dagster_home(settings: Settings) -> Path:
    return settings.home / "dagster"


def default_storage() -> str:
    """PMU_DAGSTER_STORAGE, else sqlite: `pmu ui` and `pmu demo` agree on where runs are kept."""
    return os.environ.get(STORAGE_ENV) or "sqlite"


def instance_yaml(home: Path, storage: str = "sqlite") -> str:
    """dagster.yaml for DAGSTER_HOME=`home` (JSON is valid YAML: no YAML writer needed)."""
    if storage not in STORAGE_KINDS:
        raise ValueError(f"PMU_DAGSTER_STORAGE must be one of {STORAGE_KINDS}, got {storage!r}")
    if storage == "postgres":
        storage_config = {"postgres": {"postgres_url": {"env": PG_URL_ENV}}}
    else:
        storage_config = {"sqlite": {"base_dir": str(home / "storage")}}
    config = {
        "storage": storage_config,
        "local_artifact_storage": {
            "module": "dagster._core.storage.root",
            "class": "LocalArtifactStorage",
            "config": {"base_dir": str(home)},
        },
        "concurrency": {"pools": {"default_limit": POOL_LIMIT}},
        "telemetry": {"enabled": False},
    }
    return json.dumps(config, indent=2) + "\n"


def sqlalchemy_url(url: str) -> str:
    """The warehouse URL for dagster-postgres: SQLAlchemy must be told to use psycopg2 (the driver
    installed here; its default for `postgresql://` is psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def write_instance(home: Path, storage: str = "sqlite") -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    path.write_text(instance_yaml(home, storage))
    return path


def open_instance(home: Path, database_url: str, storage: str | None = None) -> dg.DagsterInstance:
    """The project's instance at DAGSTER_HOME=`home` (dagster.yaml written as `pmu ui` writes it),
    for runs in this process; with postgres storage, its URL goes through PG_URL_ENV as for `pmu ui`."""
    import dagster as dg

    storage = storage or default_storage()
    write_instance(home, storage)
    if storage == "postgres":
        os.environ[PG_URL_ENV] = sqlalchemy_url(database_url)
    return dg.DagsterInstance.from_config(str(home))
