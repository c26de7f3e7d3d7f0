"""Filling a warehouse from recorded days, as a live system would have seen them: for each day in
date order, land its morning snapshot, then its final one (replayed over real HTTP), then build the
feature marts with dbt. Used by the synthetic-day tests, the benchmark and the real-days evaluation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from extract.client import ClientConfig
from extract.ingest import ingest_day
from pmu_core.dbt import run_dbt
from pmu_core.replay_server import ReplayServerThread

MART_SELECTION = ("+feat_runner_pre_race", "+fct_runner_result")


def recorded_days(root: Path) -> list[dt.date]:
    """Days with a programme file in a replay folder (DDMMYYYY.json)."""
    days = []
    for path in Path(root).glob("*.json"):
        try:
            days.append(dt.datetime.strptime(path.stem, "%d%m%Y").date())
        except ValueError:
            continue
    return sorted(days)


def land_days(snapshot_roots: list[Path], days: list[dt.date], db_url: str, *, max_workers: int = 8) -> dict:
    """For each day in order, ingest it from each snapshot root in turn (e.g. morning, then final)."""
    totals = {"days": 0, "bodies_new": 0, "failed": 0}
    servers = [ReplayServerThread(Path(root)).__enter__() for root in snapshot_roots]
    try:
        configs = [
            ClientConfig(
                base_url=s.base_url,
                requests_per_second=None,
                max_workers=max_workers,
                max_attempts=2,
                backoff_base_seconds=0.05,
            )
            for s in servers
        ]
        for day in days:
            for config in configs:
                report = ingest_day(day, config=config, db_url=db_url).as_dict()
                totals["bodies_new"] += report["bodies_new"]
                totals["failed"] += len(report["failed"])
            totals["days"] += 1
    finally:
        for server in servers:
            server.__exit__(None, None, None)
    return totals


def build_marts(db_url: str, selection: tuple[str, ...] = MART_SELECTION) -> None:
    """Build the feature marts (and everything upstream) for the days landed but not yet built."""
    run_dbt(db_url, "run", "--select", *selection)
