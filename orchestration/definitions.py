"""The one `Definitions` of the project, built on demand: `dagster dev -m orchestration` (the
package's lazy `defs`) or `dagster dev -m orchestration.definitions` (the `@dg.definitions` below).

Lineage: raw (extract/) -> staging -> intermediate -> core -> features (dbt) -> modeling/model ->
modeling/predictions (daily, same partitions) -> the dbt accuracy mart and modeling/feature_drift
(orchestration/drift_assets.py); modeling/evaluation beside the model (orchestration/ml_assets.py).

Importing this module builds nothing: the asset modules, dagster-dbt and the dbt manifest (with a
`dbt parse` only when it is missing or stale) are loaded by `build_definitions()`.
"""

from __future__ import annotations

import dagster as dg


def build_definitions() -> dg.Definitions:
    """A new `Definitions`: reads (and if needed parses) the dbt manifest. `orchestration.defs`
    is this, built once per process."""
    from orchestration.partitions import quiet_known_dagster_warnings

    # again here: a caller (pytest between collection and a test) may have reset the filters
    quiet_known_dagster_warnings()

    from orchestration.alerts import build_alert_sensors
    from orchestration.automation import build_automation, build_jobs
    from orchestration.checks import build_core_checks
    from orchestration.dbt_assets import build_dbt_assets, load_project
    from orchestration.drift_assets import drift_assets
    from orchestration.ml_assets import ml_assets
    from orchestration.raw_assets import build_raw_assets
    from orchestration.resources import default_resources

    project = load_project()
    dbt_defs = build_dbt_assets(project)
    dbt_keys = [key for d in dbt_defs for key in d.keys]
    jobs = build_jobs(dbt_defs)
    schedules, sensors = build_automation(jobs)
    return dg.Definitions(
        assets=[*build_raw_assets(), *dbt_defs, *ml_assets, *drift_assets],
        asset_checks=build_core_checks(dbt_keys),
        jobs=list(jobs.values()),
        schedules=schedules,
        sensors=[*sensors, *build_alert_sensors()],
        resources=default_resources(project),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
