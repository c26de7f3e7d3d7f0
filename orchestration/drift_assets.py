"""Drift of the production model's inputs and outputs, watched per scored day.

`modeling/feature_drift` (daily, after `modeling/predictions`): the population stability index of
each model feature and of the model's probabilities, the day against the training window
(pipeline/monitoring.py), stored in modeling.feature_drift for SQL. Its check warns above
pmu_core.facts.PSI_WARN and names the worst features in its metadata.
"""

import dagster as dg

from orchestration.ml_assets import GROUP, PREDICTIONS_KEY, PredictionsConfig, markdown_table
from orchestration.partitions import context_days, daily_partitions, single_run_backfill
from orchestration.resources import PostgresResource
from pmu_core.facts import PSI_WARN

DRIFT_KEY = dg.AssetKey(["modeling", "feature_drift"])
WORST_SHOWN = 10


@dg.asset(
    key=DRIFT_KEY,
    deps=[PREDICTIONS_KEY],
    partitions_def=daily_partitions,
    backfill_policy=single_run_backfill,
    group_name=GROUP,
    kinds={"python", "postgres"},
    description="Population stability (PSI) of the production model's features and probabilities "
    "on the day against its training window (modeling.feature_drift).",
    check_specs=[
        dg.AssetCheckSpec(
            "features_stable",
            asset=DRIFT_KEY,
            description=f"no feature and no probability of the day with a PSI above {PSI_WARN} "
            "against the training window (warns; the worst features in the metadata)",
        )
    ],
)
def feature_drift(context: dg.AssetExecutionContext, config: PredictionsConfig, postgres: PostgresResource):
    from pipeline.monitoring import drift

    url = postgres.get_url()
    days = context_days(context)
    try:
        found = drift(url, days, model_ref=config.model)
    except LookupError as exc:
        reason = f"{exc}: no model to watch"
        context.log.warning(reason)
        yield dg.MaterializeResult(metadata={"model": "none", "days": len(days), "note": reason})
        yield dg.AssetCheckResult(
            check_name="features_stable",
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"verdict": f"not judged: {reason}"},
        )
        return
    yield dg.MaterializeResult(
        metadata={
            "model": found["model"],
            "days": len(found["per_day"]),
            "days_without_runners": [str(d) for d in found["skipped"]],
            "dagster/row_count": sum(len(t) for t in found["per_day"].values()),
        }
    )
    yield drift_check_result(found["per_day"])


def drift_check_result(per_day: dict) -> dg.AssetCheckResult:
    """Pass unless some day has a column above PSI_WARN; the worst (day, column) pairs shown."""
    import pandas as pd

    tables = [table.assign(race_date=str(day)) for day, table in per_day.items()]
    rows = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["psi", "drifted"])
    rows = rows.sort_values("psi", ascending=False, ignore_index=True)
    drifted = rows.loc[rows["drifted"].astype(bool)]
    worst = rows.head(WORST_SHOWN).to_dict("records")
    return dg.AssetCheckResult(
        check_name="features_stable",
        passed=drifted.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "threshold": PSI_WARN,
            "days": len(per_day),
            "max_psi": float(rows["psi"].max()) if len(rows) else 0.0,
            "drifted_features": dg.MetadataValue.json(sorted(set(drifted.get("feature", [])))),
            "worst": dg.MetadataValue.md(
                markdown_table(worst, ["race_date", "feature", "psi", "reference_missing", "current_missing"])
            ),
        },
    )


drift_assets = [feature_drift]
