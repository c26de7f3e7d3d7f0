"""One daily partitioning, in Paris time, shared by the raw and dbt assets: a partition is a race
day as the warehouse keys it (`race_date`).

Also the one place that silences the Dagster warnings this project triggers knowingly
(`quiet_known_dagster_warnings()`, run once when this module is imported: every module that
defines assets imports this one for `daily_partitions` / `single_run_backfill` first)."""

from __future__ import annotations

import warnings
from datetime import date, datetime, timedelta

import dagster as dg

from pmu_core.facts import PARIS

# Beta/preview Dagster parameters used on purpose: Dagster warns at each definition that uses one.
KNOWN_BETA_PARAMETERS = ("backfill_policy",)


def quiet_known_dagster_warnings() -> None:
    """Silence Dagster's beta/preview warnings about KNOWN_BETA_PARAMETERS, and only those (any
    other beta or preview API still warns)."""
    for name in KNOWN_BETA_PARAMETERS:
        for category in (dg.BetaWarning, dg.PreviewWarning):
            warnings.filterwarnings("ignore", message=rf"Parameter `{name}` ", category=category)


quiet_known_dagster_warnings()

# The oldest day the replayed recordings hold. end_offset=1: today is a partition from midnight
# on (a day's partition is normally complete only the next day), so the morning run lands today.
FIRST_DAY = "2018-01-01"
daily_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, timezone=PARIS.key, end_offset=1)

# Many days in one run (the extractor and dbt both take a day range): a backfill is one run.
single_run_backfill = dg.BackfillPolicy.single_run()


def window_days(start: datetime, end: datetime) -> list[date]:
    """The race days of a half-open partition time window [start, end)."""
    first, stop = start.astimezone(PARIS).date(), end.astimezone(PARIS).date()
    return [first + timedelta(days=n) for n in range((stop - first).days)]


def context_days(context: dg.AssetExecutionContext) -> list[date]:
    window = context.partition_time_window
    return window_days(window.start, window.end)


def dbt_window_vars(days: list[date]) -> dict[str, str]:
    """dbt's incremental window (contract 2): half-open [start_date, end_date)."""
    return {"start_date": min(days).isoformat(), "end_date": (max(days) + timedelta(days=1)).isoformat()}
