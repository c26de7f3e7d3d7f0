"""Cost of building one new race day in the dbt warehouse when it holds 30 days of history vs
many years of it. Target: ratio <= 2 (the cost of a day must not grow with history).

History is made of real recorded days (`../shared/pmu/replay`, landed through the extractor over
the replay server) replicated in SQL under shifted race dates; bodies are untouched, so only
race_date (the URL's day, the incremental key) moves. Both warehouses are fully built first (not
timed), then the same new day is landed in both and built with the window
`--vars {start_date: D, end_date: D+1}`; that run is repeated (interleaved between the two
warehouses) and the median kept. Two figures
per warehouse: wall time of the `dbt run` process (includes dbt's fixed start-up) and the sum of
the models' execution times from run_results.json (the database work, the figure that would grow
with history). The default run without vars (latest built day again) is timed the same way.
Writes bench/results/dbt_incremental.json.

    python bench/dbt_incremental.py [--years 3] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

import _common

from pipeline.build import window_vars
from pipeline.land import ReplayPass, land_replayed
from pmu_core import db
from pmu_core.facts import RAW_TABLES
from pmu_core.settings import PROJECT_ROOT

DBT_DIR = PROJECT_ROOT / "dbt_project"
DBT = Path(sys.executable).parent / "dbt"
SELECT = [
    "path:models/staging",
    "path:models/intermediate/int_runner_results.sql",
    "path:models/intermediate/int_runner_odds.sql",
    "path:models/marts/core",
]
# Full real days (programme + every race's participants): 111, 63, 110, 27 and 15 races.
BASE_DAYS = (date(2025, 10, 26), date(2025, 11, 5), date(2025, 11, 16), date(2026, 1, 1), date(2025, 12, 25))
NEW_DAY = date(2031, 1, 1)


def ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline > 0 else float("inf")


def replicate(url: str, first: date, last: date) -> None:
    """Copy the base days' raw rows onto every day of [first, last] (cycling over the base days),
    each copy served at 21:00 Paris of its day."""
    with db.connection(url) as conn, conn.cursor() as cur:
        for table in RAW_TABLES.values():  # the registry's constants
            cur.execute(
                f"""
                insert into raw.{table} (race_date, meeting_num, race_num, client, url, http_status,
                                         fetched_at, served_at, body_sha256, extractor_version, body)
                select target.day, r.meeting_num, r.race_num, r.client, r.url, r.http_status,
                       (target.day + time '21:00') at time zone 'Europe/Paris',
                       (target.day + time '21:00') at time zone 'Europe/Paris',
                       r.body_sha256, r.extractor_version, r.body
                from (
                    select g.day::date as day,
                           (%(bases)s::date[])[1 + (g.day::date - %(first)s::date) %% %(n)s] as base_day
                    from generate_series(%(first)s::date, %(last)s::date, interval '1 day') as g(day)
                ) as target
                join raw.{table} as r on r.race_date = target.base_day
                where r.race_date = any(%(bases)s::date[])
            """,
                {"bases": list(BASE_DAYS), "first": first, "last": last, "n": len(BASE_DAYS)},
            )


def dbt(url: str, target: Path, *args: str) -> tuple[float, float]:
    """Run dbt; return (wall seconds, sum of model execution seconds)."""
    env = {**os.environ, **db.dbt_env(url), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    command = [
        str(DBT),
        *args,
        "--select",
        *SELECT,
        "--project-dir",
        str(DBT_DIR),
        "--profiles-dir",
        str(DBT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(target / "logs"),
    ]
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}")
    run_results = json.loads((target / "run_results.json").read_text())
    return wall, sum(r["execution_time"] for r in run_results["results"])


def build_warehouse(url: str, replay: Path, history_days: int, work: Path) -> dict:
    land_replayed([ReplayPass(replay)], BASE_DAYS, url, client=_common.REPLAY_CLIENT)
    first = NEW_DAY - timedelta(days=history_days)
    started = time.perf_counter()
    replicate(url, first, NEW_DAY - timedelta(days=1))
    land_seconds = time.perf_counter() - started
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute("analyze")
    started = time.perf_counter()
    dbt(url, work, "run")
    full_build_seconds = time.perf_counter() - started
    replicate(url, NEW_DAY, NEW_DAY)  # the new day arrives
    ((raw_mb,),) = _query(
        url,
        "select sum(pg_total_relation_size(('raw.' || t)::regclass)) / 1e6 from unnest(%s::text[]) as t",
        (list(RAW_TABLES.values()),),
    )
    ((runners,),) = _query(url, "select count(*) from staging.stg_pmu__participant_snapshots")
    return {
        "history_days": history_days,
        "replicate_seconds": round(land_seconds, 2),
        "full_build_seconds": round(full_build_seconds, 2),
        "raw_mb": round(float(raw_mb), 1),
        "history_runners": runners,
    }


def _query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def time_new_day(warehouses: list[tuple[str, Path]], repeat: int) -> list[dict]:
    """Build the new day's window in each warehouse, `repeat` times, interleaved so that load from
    other processes on the machine hits all of them alike; medians."""
    window = json.dumps(window_vars(NEW_DAY, NEW_DAY))
    runs: list[list[tuple[float, float]]] = [[] for _ in warehouses]
    default_runs: list[list[tuple[float, float]]] = [[] for _ in warehouses]
    for _ in range(repeat):  # rerunning the window redoes the same work (delete+insert of the day)
        for index, (url, work) in enumerate(warehouses):
            runs[index].append(dbt(url, work, "run", "--vars", window))
            # without vars: the latest built day (the new one) again, start read from each target
            default_runs[index].append(dbt(url, work, "run"))
    figures = []
    for (url, _), timings, default_timings in zip(warehouses, runs, default_runs, strict=True):
        ((races,),) = _query(url, "select count(*) from marts.race where race_date = %s", (NEW_DAY,))
        walls, models = [w for w, _ in timings], [m for _, m in timings]
        figures.append(
            {
                "wall_seconds": round(statistics.median(walls), 3),
                "model_seconds": round(statistics.median(models), 3),
                "wall_runs": [round(w, 3) for w in walls],
                "model_runs": [round(m, 3) for m in models],
                "no_vars_model_seconds": round(statistics.median(m for _, m in default_timings), 3),
                "no_vars_wall_seconds": round(statistics.median(w for w, _ in default_timings), 3),
                "new_day_races": races,
            }
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=float, default=3.0, help="history of the big warehouse (default 3)")
    parser.add_argument("--small-days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    replay = _common.shared_recordings("replay", "dbt_incremental")

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        small_url = stack.enter_context(_common.scratch_database("bench_dbt"))
        small = build_warehouse(small_url, replay, args.small_days, tmp / "small")
        big_url = stack.enter_context(_common.scratch_database("bench_dbt"))
        big = build_warehouse(big_url, replay, round(args.years * 365), tmp / "big")
        small_times, big_times = time_new_day(
            [(small_url, tmp / "small"), (big_url, tmp / "big")], args.repeat
        )

    figures = {
        "benchmark": "dbt_incremental",
        "new_day": NEW_DAY.isoformat(),
        "base_days": [d.isoformat() for d in BASE_DAYS],
        "small": {**small, **small_times},
        "big": {**big, **big_times},
        "ratio_model_seconds": round(ratio(big_times["model_seconds"], small_times["model_seconds"]), 3),
        "ratio_wall_seconds": round(ratio(big_times["wall_seconds"], small_times["wall_seconds"]), 3),
        "ratio_no_vars_model_seconds": round(
            ratio(big_times["no_vars_model_seconds"], small_times["no_vars_model_seconds"]), 3
        ),
        "target_ratio": 2.0,
    }
    _common.write_results(
        "dbt_incremental",
        figures,
        f"dbt_incremental: one new day ({small_times['new_day_races']} races) with "
        f"{small['history_days']} days of history {small_times['model_seconds']:.2f}s in models "
        f"({small_times['wall_seconds']:.1f}s wall), with {big['history_days']} days "
        f"{big_times['model_seconds']:.2f}s ({big_times['wall_seconds']:.1f}s wall): ratio "
        f"{figures['ratio_model_seconds']:.2f} (wall {figures['ratio_wall_seconds']:.2f}; without vars "
        f"{figures['ratio_no_vars_model_seconds']:.2f}), target <= 2",
    )


if __name__ == "__main__":
    main()
