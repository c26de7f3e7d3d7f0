"""Build cost of the analyst statistics (issue 18) against the rest of the warehouse, in the same
dbt run: the dimensions (hippodrome, sire, dam, damsire) and marts/stats (progeny_stats,
connection_stats) vs every other model, from run_results.json (the database work of each model).

Lands the real days of `../shared/pmu/history` (morning then final snapshot of each day) into a
kept database unless `--db-url` is given, then times two runs: a rebuild from scratch
(`dbt run --full-refresh`) and the daily case, a one-day window on the last day. Ratio = the new
models' seconds over the other models' seconds of the same run. feat_runner_pre_race, which also
computes the point-in-time records, counts among the others. Writes bench/results/stats_marts.json.

    python bench/stats_marts.py [--db-url URL]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import _common

from pipeline.build import window_vars
from pipeline.land import ReplayPass, land_replayed, recorded_days
from pmu_core.dbt import run_dbt

DATABASE = "pmu_bench_stats"
NEW_MODELS = ("hippodrome", "sire", "dam", "damsire", "progeny_stats", "connection_stats")


def model_seconds(target: Path) -> dict[str, float]:
    results = json.loads((target / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: round(r["execution_time"], 3) for r in results}


def timed_run(url: str, *args: str, variables: dict | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_stats_") as folder:
        started = time.perf_counter()
        run_dbt(url, "run", *args, vars=variables, target_dir=Path(folder))
        wall = time.perf_counter() - started
        seconds = model_seconds(Path(folder))
    new = sum(s for m, s in seconds.items() if m in NEW_MODELS)
    other = sum(s for m, s in seconds.items() if m not in NEW_MODELS)
    return {
        "wall_seconds": round(wall, 1),
        "new_models_seconds": round(new, 2),
        "other_models_seconds": round(other, 2),
        "ratio_new_to_other": round(new / other, 3) if other else None,
        "feat_runner_pre_race_seconds": seconds.get("feat_runner_pre_race"),
        "models": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", help="a warehouse with the real history landed (skips landing)")
    args = parser.parse_args(argv)
    history = _common.shared_recordings("history", "stats_marts")
    days = recorded_days(history / "final")
    url = args.db_url
    if url is None:
        url, _ = _common.kept_database(DATABASE)
        passes = [ReplayPass(history / "morning"), ReplayPass(history / "final")]
        land_replayed(passes, days, url, client=_common.REPLAY_CLIENT)
    scratch = timed_run(url, "--full-refresh")
    one_day = timed_run(url, variables=window_vars(days[-1], days[-1]))
    figures = {"days": len(days), "new_models": list(NEW_MODELS), "full_refresh": scratch, "one_day": one_day}
    _common.write_results(
        "stats_marts",
        figures,
        f"stats_marts: {len(days)} real days; from scratch new models {scratch['new_models_seconds']} s vs "
        f"{scratch['other_models_seconds']} s for the others (ratio {scratch['ratio_new_to_other']}); "
        f"one day {one_day['new_models_seconds']} s vs {one_day['other_models_seconds']} s "
        f"(ratio {one_day['ratio_new_to_other']})",
        show_path=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
