"""The Dagster instance `pmu ui` runs with: DAGSTER_HOME under PMU_HOME, run/event/schedule
storage in the warehouse's PostgreSQL (schema `dagster`, orchestration.storage: one kept
connection per storage) by default, or in sqlite files under DAGSTER_HOME with
PMU_DAGSTER_STORAGE=sqlite. Dagster reads the database's URL from PMU_DAGSTER_PG_URL (set by
`pmu ui` and `pmu demo`), so no credential is written to disk.

`open_instance` gives that instance to code that runs in this process (`pmu demo`): what it
records, `pmu ui` shows. Dagster is imported there only."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from pmu_core.settings import Settings

if TYPE_CHECKING:
    import dagster as dg

STORAGE_KINDS = ("sqlite", "postgres")
STORAGE_ENV = "PMU_DAGSTER_STORAGE"
PG_URL_ENV = "PMU_DAGSTER_PG_URL"
# Dagster's tables live in their own schema of the warehouse database (created by db.ensure_schemas)
DAGSTER_SCHEMA = "dagster"
# One op at a time per pool: `dbt` (two runs never write the same incremental model at once) and
# `pmu_api` (two runs never double the request rate).
POOL_LIMIT = 1


def dagster_home(settings: Settings) -> Path:
    return settings.home / "dagster"


def default_storage() -> str:
    """PMU_DAGSTER_STORAGE, else postgres: `pmu ui` and `pmu demo` agree on where runs are kept.
    Postgres by default: sqlite commits and syncs the disk once per event, about a thousand per
    daily run (bench/daily_run.py --storage compares them)."""
    return os.environ.get(STORAGE_ENV) or "postgres"


def instance_yaml(home: Path, storage: str = "postgres") -> str:
    """dagster.yaml for DAGSTER_HOME=`home` (JSON is valid YAML: no YAML writer needed)."""
    if storage not in STORAGE_KINDS:
        raise ValueError(f"PMU_DAGSTER_STORAGE must be one of {STORAGE_KINDS}, got {storage!r}")
    if storage == "postgres":
        storage_config = {
            "custom": {
                "module": "orchestration.storage",
                "class": "PooledPostgresStorage",
                "config": {"postgres_url": {"env": PG_URL_ENV}},
            }
        }
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
    installed here; its default for `postgresql://` is psycopg 3), and Dagster's tables go to their
    own schema (search_path). Their sessions commit without waiting for the disk
    (synchronous_commit=off): a run writes about a thousand events, each its own commit, and a
    crash can lose only the last fraction of a second of them, never corrupt the database."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg2://" + url[len(prefix) :]
            break
    separator = "&" if "?" in url else "?"
    options = f"-csearch_path={DAGSTER_SCHEMA} -csynchronous_commit=off"
    return f"{url}{separator}options={quote(options)}"


def write_instance(home: Path, storage: str = "postgres") -> Path:
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
