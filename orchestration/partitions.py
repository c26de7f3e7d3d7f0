"""One daily partitioning, in Paris time, shared by the raw and dbt assets: a partition is a race
day as the warehouse keys it (`race_date`)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import dagster as dg

from orchestration.race_clock import PARIS

# The oldest day the replayed recordings hold. end_offset=1: today is a partition from midnight
# on (a day's partition is normally complete only the next day), so the morning run lands today.
FIRST_DAY = "2018-01-01"
daily_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, timezone="Europe/Paris", end_offset=1)

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
