"""Synthetic days: how long one year of full-size days takes to generate (target: under a minute).

Generates `--days` days (default 365) of `--meetings-per-day` (default 7, about 50 races a day)
into a temporary folder with `synth.generate`, then, in the same run, the baseline: the same world
simulated over the same days without building or writing any body (`World.run_day` +
`record_day` only). The ratio says what the bodies and files cost on top of the simulation.
Also times the default `make demo` world (70 days of 5 meetings). Wall and CPU seconds are both
reported: the machine is shared, CPU time is the steadier figure. Writes bench/results/synth.json
and prints one line. The generated files are deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import _common

from synth import SynthConfig, generate
from synth.world import World, days_between

TARGET_SECONDS = 60.0


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def simulate_only(start: date, end: date, seed: int, meetings: float) -> int:
    config = SynthConfig(meetings_per_day=meetings)
    world = World(config, seed, start - timedelta(days=config.burn_in_days))
    races = 0
    for day in days_between(start - timedelta(days=config.burn_in_days), end):
        today = world.run_day(day)
        races += len(today) if day >= start else 0
        world.record_day(day, today)
    return races


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--meetings-per-day", type=float, default=7.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None, help="write the days here and keep them")
    args = parser.parse_args()
    start = date(2024, 1, 1)
    end = start + timedelta(days=args.days - 1)
    scratch = Path(tempfile.mkdtemp(prefix="bench_synth_"))
    out = args.keep or scratch / "year"
    try:
        summary, wall, cpu = timed(
            lambda: generate(start, end, out, seed=args.seed, meetings_per_day=args.meetings_per_day)
        )
        shutil.rmtree(scratch / "year", ignore_errors=True)
        races, base_wall, base_cpu = timed(
            lambda: simulate_only(start, end, args.seed, args.meetings_per_day)
        )
        assert races == summary["races"], "the baseline must simulate the very same races"
        demo_start = date(2025, 11, 30) - timedelta(days=70)
        demo, demo_wall, demo_cpu = timed(
            lambda: generate(demo_start, date(2025, 11, 30), scratch / "demo", seed=7, meetings_per_day=5.0)
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    figures = {
        "days": summary["days"],
        "meetings_per_day": args.meetings_per_day,
        "races": summary["races"],
        "runners": summary["runners"],
        "files": summary["files"],
        "bytes": summary["bytes"],
        "generate_wall_seconds": round(wall, 2),
        "generate_cpu_seconds": round(cpu, 2),
        "generate_phases_wall_seconds": summary["seconds_by_phase"],
        "races_per_second": round(summary["races"] / wall, 1),
        "mb_per_second": round(summary["bytes"] / 1e6 / wall, 1),
        "baseline_simulate_only_wall_seconds": round(base_wall, 2),
        "baseline_simulate_only_cpu_seconds": round(base_cpu, 2),
        "ratio_generate_to_simulate_only_cpu": round(cpu / base_cpu, 2),
        "target_seconds_for_a_year": TARGET_SECONDS,
        "year_under_target_wall": wall < TARGET_SECONDS if args.days >= 365 else None,
        "year_under_target_cpu": cpu < TARGET_SECONDS if args.days >= 365 else None,
        # the machine is shared: the load average says how far wall time is from CPU time
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "demo_world": {
            "days": demo["days"],
            "races": demo["races"],
            "wall_seconds": round(demo_wall, 2),
            "cpu_seconds": round(demo_cpu, 2),
        },
    }
    _common.write_results(
        "synth",
        figures,
        f"synth: {figures['days']} days, {figures['races']} races, {figures['bytes'] / 1e9:.2f} GB in "
        f"{wall:.1f}s wall / {cpu:.1f}s CPU (target {TARGET_SECONDS:.0f}s, load "
        f"{figures['load_average_1min_at_end']}); simulate-only baseline "
        f"{base_cpu:.1f}s CPU, ratio {figures['ratio_generate_to_simulate_only_cpu']}x; demo world "
        f"{demo['races']} races in {demo_wall:.1f}s",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
