"""Hostile bodies: what becomes of each, and what they cost.

Writes ten synthetic days (seeded, synth.days.generate), mutates 95% of the race bodies of the first
nine (pmu_core.hostile: truncation, wrong types, missing and renamed keys, huge strings and
numbers, `\\u0000`, NUL, non-UTF-8, BOM, deep nesting, HTML and empty 200s, `null`), then lands
them with `extract.ingest.backfill` (what `pmu backfill` runs) through a replay server and builds
the whole dbt project. Baseline, in the same run: the same backfill and build of the clean days.
Counts each mutated body's outcome (parsed into rows, quarantined in staging.bodies_without_rows,
rejected into raw.rejected_bodies, not fetched, lost) per mutation and prints them as one table;
writes bench/results/reliability.json and prints one line.

Target: 0 lost, dbt build green.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import _common
import psycopg2

import synth.days
from extract.ingest import backfill
from pipeline.build import build
from pmu_core import hostile
from pmu_core.replay_server import ReplayServerThread

FIRST_DAY = date(2025, 3, 3)


def land_and_build(root: Path, start: date, end: date, url: str) -> tuple[float, float, dict]:
    """(backfill seconds, dbt build seconds, the backfill's report) of `root` into `url`."""
    with ReplayServerThread(root) as server:
        config = replace(_common.REPLAY_CLIENT, base_url=server.base_url, backoff_base_seconds=0.01)
        started = time.perf_counter()
        report = backfill(start, end, config=config, db_url=url, progress=False)
        landed = time.perf_counter() - started
    started = time.perf_counter()
    statuses = build(url)  # raises when dbt fails
    return landed, time.perf_counter() - started, {"report": report, "dbt": statuses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--share", type=float, default=0.95, help="share of race bodies mutated")
    args = parser.parse_args()
    start, end = FIRST_DAY, FIRST_DAY + timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory(prefix="pmu-bench-reliability-") as scratch:
        clean = Path(scratch) / "clean"
        synth.days.generate(start, end, clean, seed=13, meetings_per_day=4, burn_in_days=3)
        broken = Path(scratch) / "hostile"
        manifest = hostile.write_corpus(clean, broken, seed=args.seed, share=args.share)
        with _common.scratch_database("bench_rel_clean") as url:
            clean_land, clean_build, clean_run = land_and_build(clean, start, end, url)
        with _common.scratch_database("bench_rel_hostile") as url:
            hostile_land, hostile_build, hostile_run = land_and_build(broken, start, end, url)
            with psycopg2.connect(url) as conn:
                results = hostile.outcomes(conn, manifest)
    table = hostile.outcome_table(results)
    print(hostile.format_table(table))
    total = table["total"]
    report = hostile_run["report"]
    figures = {
        "days": args.days,
        "mutated_bodies": len(manifest),
        "outcomes": table,
        "dbt_hostile": hostile_run["dbt"],
        "dbt_clean": clean_run["dbt"],
        "backfill_failed_urls": len(report.failed),
        "backfill_rejected_fetches": report.rejected,
        "seconds": {
            "backfill_hostile": round(hostile_land, 2),
            "backfill_clean": round(clean_land, 2),
            "dbt_build_hostile": round(hostile_build, 2),
            "dbt_build_clean": round(clean_build, 2),
        },
        "ratio_backfill_hostile_vs_clean": round(hostile_land / clean_land, 2),
        "ratio_dbt_hostile_vs_clean": round(hostile_build / clean_build, 2),
    }
    _common.write_results(
        "reliability",
        figures,
        f"reliability: {len(manifest)} mutated bodies: "
        + ", ".join(f"{total[o]} {o.replace('_', ' ')}" for o in hostile.OUTCOMES)
        + f"; dbt {'green' if set(hostile_run['dbt']) <= {'success', 'pass'} else 'RED'}; backfill "
        f"{figures['ratio_backfill_hostile_vs_clean']}x, dbt build {figures['ratio_dbt_hostile_vs_clean']}x "
        "the clean days'",
        show_path=True,
    )


if __name__ == "__main__":
    main()
