"""The one `Definitions` of the project: `dagster dev -m orchestration`.

Lineage: raw (extract/) -> staging -> intermediate -> core -> features (dbt) -> modeling/model ->
modeling/predictions (daily, same partitions) -> the dbt accuracy mart; modeling/evaluation beside
the model (orchestration/ml_assets.py).
"""

from __future__ import annotations

import dagster as dg

from orchestration.automation import build_automation, build_jobs
from orchestration.checks import build_core_checks
from orchestration.dbt_assets import build_dbt_assets, load_project
from orchestration.ml_assets import ml_assets
from orchestration.raw_assets import raw_assets
from orchestration.resources import default_resources


def build_definitions() -> dg.Definitions:
    project = load_project()
    dbt_defs = build_dbt_assets(project)
    dbt_keys = [key for d in dbt_defs for key in d.keys]
    jobs = build_jobs(dbt_defs)
    schedules, sensors = build_automation(jobs)
    return dg.Definitions(
        assets=[*raw_assets, *dbt_defs, *ml_assets],
        asset_checks=build_core_checks(dbt_keys),
        jobs=list(jobs.values()),
        schedules=schedules,
        sensors=sensors,
        resources=default_resources(project),
    )


defs = build_definitions()
