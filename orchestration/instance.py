"""The Dagster instance `pmu ui` runs with: DAGSTER_HOME under PMU_HOME, run/event/schedule
storage in sqlite files there by default, or in the warehouse's PostgreSQL (dagster-postgres)
with PMU_DAGSTER_STORAGE=postgres. Dagster reads that database's URL from PMU_DAGSTER_PG_URL
(set by `pmu ui`), so no credential is written to disk."""

from __future__ import annotations

import json
from pathlib import Path

from pmu_core.settings import Settings

STORAGE_KINDS = ("sqlite", "postgres")
PG_URL_ENV = "PMU_DAGSTER_PG_URL"
# One op at a time per pool: `dbt` (two runs never write the same incremental model at once) and
# `pmu_api` (two runs never double the request rate).
POOL_LIMIT = 1


def dagster_home(settings: Settings) -> Path:
    return settings.home / "dagster"


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
