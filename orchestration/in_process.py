"""Runs of the project's assets in this process, recorded on the project's Dagster instance (the
one `pmu ui` opens, orchestration/instance.py): how `pmu demo` builds everything, so that the UI
then shows each asset it built with its metadata and each check it evaluated.

A run is the project's implicit asset job (`__ASSET_JOB`, the job the UI's "Materialize" button
launches) on a selection of assets (their checks come with them), for one day or a range of days
in one run (the partition range tags a single-run backfill sets), with resources given in place
of the defaults (a replay server's address, say), optionally with the project's clock standing
still at an instant (PMU_NOW) while it runs."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime

import dagster as dg

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
CLOCK_ENV = "PMU_NOW"  # pmu_core.settings.now


@contextmanager
def frozen_clock(instant: datetime | None) -> Iterator[None]:
    """The project's clock (schedule, sensors, checks, publications) at `instant` inside the block
    (None: left as it is), restored after."""
    if instant is None:
        yield
        return
    saved = os.environ.get(CLOCK_ENV)
    os.environ[CLOCK_ENV] = instant.isoformat()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(CLOCK_ENV, None)
        else:
            os.environ[CLOCK_ENV] = saved


def range_tags(first: date, last: date) -> dict[str, str]:
    """The tags of one run over the days first..last (inclusive)."""
    if last < first:
        raise ValueError(f"day range {first}..{last} is empty")
    return {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}


def materialize_days(
    defs: dg.Definitions,
    selection: dg.AssetSelection,
    days: tuple[date, date] | None,
    *,
    instance: dg.DagsterInstance,
    resources: Mapping[str, object] | None = None,
    run_config: Mapping | None = None,
    tags: Mapping[str, str] | None = None,
    now: datetime | None = None,
    log_level: str | None = None,
) -> dg.ExecuteInProcessResult:
    """One run of the selected assets of `defs` (and their checks) for `days` (first, last), the
    unpartitioned ones materialised once (None: a selection of unpartitioned assets); events
    below `log_level` are recorded on the instance but not printed. Raises when a step fails."""
    # Resources are bound to the assets when definitions resolve: others need new definitions.
    run_defs = dg.Definitions(
        assets=defs.assets, asset_checks=defs.asset_checks, resources={**defs.resources, **(resources or {})}
    )
    keys = sorted(selection.resolve(run_defs.resolve_asset_graph()), key=lambda key: key.to_user_string())
    if not keys:
        raise ValueError("the selection names no asset of these definitions")
    job = run_defs.resolve_implicit_global_asset_job_def()
    first, last = days or (None, None)
    one_day = first is not None and first == last
    day_tags = range_tags(first, last) if days and not one_day else {}
    if log_level:
        run_config = {**(run_config or {}), "loggers": {"console": {"config": {"log_level": log_level}}}}
    with frozen_clock(now):
        return job.execute_in_process(
            run_config=run_config,
            instance=instance,
            partition_key=first.isoformat() if one_day else None,
            asset_selection=keys,
            tags={**day_tags, **(tags or {})},
        )


def latest_metadata(result: dg.ExecuteInProcessResult) -> dict[dg.AssetKey, dict]:
    """Each materialised asset's metadata values (a range run records one event per day, with the
    same metadata: the first is kept)."""
    found: dict[dg.AssetKey, dict] = {}
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        found.setdefault(event.asset_key, {name: value.value for name, value in metadata.items()})
    return found


def check_outcomes(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    """How many of the run's check evaluations passed, and how many failed (warnings included)."""
    evaluations = result.get_asset_check_evaluations()
    passed = sum(1 for e in evaluations if e.passed)
    return {"passed": passed, "failed": len(evaluations) - passed}
