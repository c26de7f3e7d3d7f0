"""Build the warehouse with dbt: staging, core, features and the ML marts, for a window of race
days or for what is new since the last build (the models' incremental rule, contract 2 in
pmu_core/facts.py)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta

from pmu_core.dbt import DBT_PROJECT, run_dbt

# What the models need, and nothing downstream of it: the feature marts and their inputs.
FEATURE_MARTS = ("+feat_runner_pre_race", "+fct_runner_result")


def window_vars(start: date | None, end: date | None, odds_cutoff_minutes: int | None = None) -> dict:
    """dbt vars for an inclusive day range: the models' half-open window [start, end + 1)."""
    if start and end and end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    out: dict = {}
    if start:
        out["start_date"] = start.isoformat()
    if end:
        out["end_date"] = (end + timedelta(days=1)).isoformat()
    if odds_cutoff_minutes is not None:
        out["odds_cutoff_minutes"] = odds_cutoff_minutes
    return out


def build(
    db_url: str,
    *,
    select: tuple[str, ...] = (),
    command: str = "build",
    variables: dict | None = None,
    with_unit_tests: bool = False,
    stream: bool = False,
) -> dict[str, int]:
    """`dbt build` (or `run`) of `select` (default: everything) against db_url; returns the count of
    nodes by status. Unit tests check the SQL, not the data: CI runs them, a build skips them
    unless asked. `stream` shows dbt's log as it runs (the CLI); otherwise it is kept for the
    error. Raises RuntimeError when dbt fails."""
    args = [command]
    if select:
        args += ["--select", *select]
    if command == "build" and not with_unit_tests:
        args += ["--exclude", "resource_type:unit_test"]
    run_dbt(db_url, *args, vars=variables or None, stream=stream)
    results = json.loads((DBT_PROJECT / "target" / "run_results.json").read_text())["results"]
    return dict(sorted(Counter(node["status"] for node in results).items()))


def build_feature_marts(
    db_url: str, variables: dict | None = None, *, stream: bool = False
) -> dict[str, int]:
    """The feature marts and everything upstream, for the days landed but not built yet (or a
    window); data tests are left to full builds."""
    return build(db_url, select=FEATURE_MARTS, command="run", variables=variables, stream=stream)


def describe(statuses: dict[str, int]) -> str:
    return ", ".join(f"{count} {status}" for status, count in statuses.items())
