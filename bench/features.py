"""Cost of the feature marts (issue 7, part 8): rows/s of a full build, and the cost of building
ONE new day with little vs much history behind it (target: much / little <= 2).

1. Land the first N real days of ../shared/pmu/history (morning then final, through the extractor
   and the replay server) in a fresh database; build the feature marts (and the core below them)
   from nothing: rows/s of the feature models.
2. Little history: rebuild the last landed day T alone (vars window [T, T+1)), the N-1 real days
   before it as history. Timed 3 times; figures are medians.
3. Much history: the history the features read (intermediate.int_runner_outcome, one row
   per past runner, indexed by entity and date) gets copies of those days shifted back day after
   day until it spans `--years` years, as a warehouse after years of daily runs; T rebuilt again.
   The other inputs of a one-day build are read through race_date indexes, whatever their size.
The ratio compares the feature models' own execution time (dbt run_results) and the wall time of
the dbt command, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import _common

from pipeline.build import FEATURE_MARTS, window_vars
from pipeline.land import ReplayPass, land_replayed, recorded_days
from pmu_core import db
from pmu_core.dbt import DBT_PROJECT

DATABASE = "pmu_bench_features"
TARGET_PATH = DBT_PROJECT / "target" / "bench_features"
FEATURE_MODELS = [
    "int_race_pit",
    "int_runner_pit",
    "int_runner_outcome",
    "int_past_form",
    "feat_runner_pre_race",
    "fct_runner_result",
]

_REPLICATE_SQL = """
insert into intermediate.int_runner_outcome
select
    to_char(o.race_date - shift.days, 'YYYY-MM-DD') || substr(o.race_id, 11) as race_id,
    o.race_date - shift.days as race_date,
    o.num_pmu, o.result_known_at - make_interval(days => shift.days),
    o.horse_key, o.jockey_key, o.trainer_key, o.sire_key, o.dam_sire_key,
    o.race_start_at - make_interval(days => shift.days),
    o.discipline, o.distance_m, o.distance_band, o.hippodrome_code, o.going_penetrometre, o.going_label,
    o.prize_eur, o.has_result, o.is_non_runner, o.is_starter, o.finish_place, o.is_winner, o.is_placed,
    o.final_odds, o.seconds_per_km, o.seconds_per_km_vs_field
from intermediate.int_runner_outcome as o
cross join generate_series(%(span)s, %(total)s, %(span)s) as shift (days)
where o.race_date < %(target)s
"""


def dbt_run(url: str, *args: str) -> tuple[float, dict[str, float]]:
    """Wall seconds of the dbt command and execution seconds of each model it ran."""
    env = {**os.environ, **db.dbt_env(url), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    command = [
        str(Path(sys.executable).parent / "dbt"),
        "run",
        *args,
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(DBT_PROJECT),
        "--target-path",
        str(TARGET_PATH),
    ]
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(f"dbt failed:\n{result.stdout[-4000:]}")
    run_results = json.loads((TARGET_PATH / "run_results.json").read_text())
    models = {r["unique_id"].split(".")[-1]: r["execution_time"] for r in run_results["results"]}
    return wall, models


def scalar(url: str, statement: str, params: dict | tuple = ()) -> object:
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchone()[0]


def one_day_cost(url: str, target: date, repeats: int) -> dict:
    window = json.dumps(window_vars(target, target))
    walls, model_seconds = [], []
    for _ in range(repeats):
        wall, models = dbt_run(url, "--select", *FEATURE_MODELS, "--vars", window)
        walls.append(wall)
        model_seconds.append(sum(models.values()))
    rows = scalar(url, "select count(*) from marts.feat_runner_pre_race where race_date = %s", (target,))
    history = scalar(
        url, "select count(*) from intermediate.int_runner_outcome where race_date < %s", (target,)
    )
    span = scalar(url, "select %s - min(race_date) from intermediate.int_runner_outcome", (target,))
    return {
        "history_rows": history,
        "history_days": span,
        "day_rows": rows,
        "wall_seconds": round(statistics.median(walls), 3),
        "model_seconds": round(statistics.median(model_seconds), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=12, help="real days landed (the last one is rebuilt)")
    parser.add_argument("--years", type=float, default=3.0, help="span of the 'much history' case")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    history = _common.shared_recordings("history", "features")
    days = recorded_days(history / "final")[: args.days]
    target = days[-1]

    url = _common.fresh_database(DATABASE)
    passes = [ReplayPass(history / "morning"), ReplayPass(history / "final")]
    land_replayed(passes, days, url, client=_common.REPLAY_CLIENT)
    full_wall, full_models = dbt_run(url, "--select", *FEATURE_MARTS)
    mart_rows = scalar(url, "select count(*) from marts.feat_runner_pre_race")
    feature_seconds = sum(full_models.get(m, 0.0) for m in FEATURE_MODELS)

    little = one_day_cost(url, target, args.repeats)
    span = (target - days[0]).days  # days of real history, copied back block after block
    total = int(args.years * 365)
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute(_REPLICATE_SQL, {"span": span, "total": total, "target": target})
        cur.execute("analyze intermediate.int_runner_outcome")
    much = one_day_cost(url, target, args.repeats)

    figures = {
        "full_build": {
            "days": len(days),
            "mart_rows": mart_rows,
            "feature_model_seconds": round(feature_seconds, 3),
            "rows_per_second": round(mart_rows / feature_seconds, 1),
            "dbt_wall_seconds": round(full_wall, 1),
        },
        "one_day_little_history": little,
        "one_day_much_history": much,
        "ratio_model_seconds": round(much["model_seconds"] / little["model_seconds"], 3),
        "ratio_wall_seconds": round(much["wall_seconds"] / little["wall_seconds"], 3),
        "target_ratio": 2.0,
        # the machine is shared: a loaded one (load > cores) makes every figure noisy
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
    }
    _common.write_results(
        "features",
        figures,
        f"features: full build {figures['full_build']['rows_per_second']:.0f} rows/s; one day "
        f"{little['model_seconds']:.2f}s with {little['history_days']} days of history vs "
        f"{much['model_seconds']:.2f}s with {much['history_days']} days: "
        f"ratio {figures['ratio_model_seconds']:.2f} "
        f"(wall {figures['ratio_wall_seconds']:.2f}, target <= 2)",
        indent=1,
        show_path=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
