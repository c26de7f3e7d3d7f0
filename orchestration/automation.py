"""Jobs, the morning schedule and the race-clock sensors.

- 08:00 Paris: land the day's programme, participants and past performances, build the warehouse.
- results sensor: from 10 min after each start, land results and rapports for that day and
  rebuild it; again every 15 min while some are missing, for at most 6 h after the start.
- odds sensor: a participants snapshot of each race every 10 min from 08:00 Paris, every minute in
  the last 10 min before its start (only the races due, race_clock.odds_due), the dbt models
  between it and the feature mart, then the races whose market moved are re-scored.
The morning run scores the day (modeling/predictions) after dbt, then measures drift
(modeling/feature_drift).
All three start stopped: turning them on against the live API is a deliberate act.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import dagster as dg

from orchestration import race_clock, warehouse
from orchestration.drift_assets import DRIFT_KEY
from orchestration.ml_assets import BETS_KEY, EVALUATION_KEY, FEATURES_KEY, MODEL_KEY, PREDICTIONS_KEY
from orchestration.raw_assets import raw_asset_key
from orchestration.resources import PostgresResource
from pmu_core import facts, settings
from pmu_core.facts import ENDPOINT_NAMES, PARIS


def current_time() -> datetime:
    """The sensors' clock: the project's (PMU_NOW / PMU_CLOCK_OFFSET_SECONDS, else the wall
    clock; pmu_core.settings.now). Tests replace it with a simulated one."""
    return settings.now()


def _raw(*endpoints: str) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*(raw_asset_key(e) for e in endpoints))


# The odds runs re-score only the races whose market or field moved since they were scored.
ODDS_RUN_CONFIG = {"ops": {PREDICTIONS_KEY.to_python_identifier(): {"config": {"only_moved_races": True}}}}


def odds_run_config(race_ids: Sequence[str]) -> dict:
    """An odds run: participants of these races only, then the moved races re-scored."""
    participants = raw_asset_key("participants").to_python_identifier()
    return {"ops": {**ODDS_RUN_CONFIG["ops"], participants: {"config": {"race_ids": list(race_ids)}}}}


# The day's jobs run in one process (the run worker): their steps wait on each other anyway (raw
# endpoints in the `pmu_api` pool, dbt in the `dbt` pool, both limited to one op at a time, then
# scoring after dbt), and the multiprocess executor's subprocess per step loads the definitions again
# each time (dagster-dbt, dbt and the manifest), which cost more than most steps' work.
DAILY_EXECUTOR = dg.in_process_executor


def build_jobs(dbt_defs: Sequence[dg.AssetsDefinition]) -> dict[str, Any]:
    warehouse_models = dg.AssetSelection.assets(*dbt_defs)
    predictions = dg.AssetSelection.assets(PREDICTIONS_KEY)
    odds = _raw("participants")
    if FEATURES_KEY in {key for d in dbt_defs for key in d.keys}:
        # the dbt models from the participants snapshots to the feature mart's market columns
        to_features = _raw("participants").downstream() & dg.AssetSelection.assets(FEATURES_KEY).upstream()
        odds = odds | to_features | predictions
    return {
        "morning": dg.define_asset_job(
            "morning_job",
            executor_def=DAILY_EXECUTOR,
            selection=_raw(*facts.MORNING_RUN_ENDPOINTS)
            | warehouse_models
            | predictions
            | dg.AssetSelection.assets(DRIFT_KEY),
            description="The day's programme, fields and past performances, the warehouse, then the "
            "day's predictions and the drift of the model's inputs.",
        ),
        "results": dg.define_asset_job(
            "results_job",
            executor_def=DAILY_EXECUTOR,
            selection=_raw("programme", "participants", "rapports")
            | warehouse_models
            | dg.AssetSelection.assets(BETS_KEY),
            description="Arrivals (programme, participants) and rapports of a day, the warehouse, then "
            "the open bets settled.",
        ),
        "odds": dg.define_asset_job(
            "odds_snapshot_job",
            executor_def=DAILY_EXECUTOR,
            selection=odds,
            description="One more participants snapshot (odds) of a day, the feature mart, and the "
            "races whose market moved re-scored.",
        ),
        "training": dg.define_asset_job(
            "training_job",
            selection=dg.AssetSelection.assets(MODEL_KEY, EVALUATION_KEY),
            description="Train and register a model on the feature mart, then its walk-forward evaluation.",
        ),
        "daily": dg.define_asset_job(
            "daily_job",
            executor_def=DAILY_EXECUTOR,
            selection=_raw(*ENDPOINT_NAMES) | warehouse_models,
            description="Everything for a day (or a range: one run).",
        ),
    }


def _watched(postgres: PostgresResource, now: datetime):
    days = race_clock.days_to_watch(now)
    with postgres.connection() as conn:
        programmes = warehouse.latest_programmes(conn, days)
        rapports = warehouse.landed_race_keys(conn, "rapports", days)
    races = [r for _, day_races in programmes.values() for r in day_races]
    return races, rapports


def build_automation(jobs: dict[str, Any]):
    @dg.schedule(
        job=jobs["morning"],
        cron_schedule="0 8 * * *",
        execution_timezone=PARIS.key,
        name="morning_schedule",
        description="08:00 Paris: the morning job on the day's partition (the day of the project's "
        "clock when PMU_NOW or `pmu ui --now` sets it).",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    def morning_schedule(context: dg.ScheduleEvaluationContext):
        # With the project's clock set (PMU_NOW, `pmu ui --now`), a tick works on that clock's day.
        tick = current_time() if settings.clock_is_set() else context.scheduled_execution_time
        key = race_clock.morning_partition_key(tick)
        return dg.RunRequest(run_key=f"morning-{key}", partition_key=key, tags={"pmu/trigger": "morning"})

    @dg.sensor(
        job=jobs["results"],
        name="results_sensor",
        description="From 10 min after each start, every 15 min while its rapports are missing (up "
        "to 6 h): a results run of that day. Reads the project's clock (PMU_NOW).",
        minimum_interval_seconds=120,
        default_status=dg.DefaultSensorStatus.STOPPED,
    )
    def results_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource):
        now = current_time()
        races, rapports = _watched(postgres, now)
        requests = race_clock.results_requests(races, rapports, now)
        if not requests:
            return dg.SkipReason(
                f"no race waiting for results at {now:%Y-%m-%d %H:%M} UTC ({len(races)} races watched)"
            )
        return [
            dg.RunRequest(run_key=run_key, partition_key=day, tags={"pmu/trigger": "results"})
            for day, run_key in requests.items()
        ]

    @dg.sensor(
        job=jobs["odds"],
        name="pre_race_odds_sensor",
        description="Participants snapshots of the races due (every 10 min from 08:00 Paris, every "
        "minute in the last 10 min before a start), then the moved races re-scored. Reads the "
        "project's clock (PMU_NOW).",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
    )
    def pre_race_odds_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource):
        now = current_time()
        previous = datetime.fromisoformat(context.cursor) if context.cursor else None
        races, _ = _watched(postgres, now)
        requests = race_clock.odds_requests(races, now, previous)
        context.update_cursor(now.isoformat())
        if not requests:
            return dg.SkipReason(f"no race due for an odds snapshot at {now:%Y-%m-%d %H:%M} UTC")
        return [
            dg.RunRequest(
                run_key=run_key,
                partition_key=day,
                tags={"pmu/trigger": "odds"},
                run_config=odds_run_config(race_ids),
            )
            for day, (run_key, race_ids) in requests.items()
        ]

    return [morning_schedule], [results_sensor, pre_race_odds_sensor]
