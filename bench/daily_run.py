"""The whole daily path for one real-sized day, split by step, direct and through Dagster.

A real day of `../shared/pmu/replay` (default 16/11/2025: 110 races, programme and participants of
every race) is served by `pmu replay-server` in its own process (no rate limit). In the same run:

1. direct path, on a fresh database: `fetch` (every GET of the day through the extractor's client,
   no database), `ingest` (extract.ingest.ingest_day: the same GETs plus landing; `land` is the
   difference), `dbt` (`dbt build` of the project for that day's window, as the Dagster op runs it);
2. Dagster path, on another fresh database: the day's whole asset graph and checks materialised
   in-process (`dagster.materialize`), with its steps' times.

The baseline is the direct path: `ratio` = Dagster wall time / direct wall time (the cost of the
orchestration). Also reported: the time the polite default rate limit (4 requests/s) alone puts
under the fetch of that day on the live API. Writes bench/results/daily_run.json, prints one line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import date
from pathlib import Path

import _common

from extract.client import ClientConfig, PmuClient
from extract.ingest import ingest_day
from pipeline.build import window_vars
from pmu_core import db
from pmu_core.facts import ENDPOINT_NAMES, api_path, day_code
from pmu_core.programme import programme_races
from pmu_core.settings import PROJECT_ROOT

POLITE_RPS = ClientConfig(base_url="").requests_per_second


def time_fetch(config: ClientConfig, day: date) -> tuple[float, int, int]:
    """Seconds, requests and bytes of every GET of the day (programme first: it lists the races)."""
    with PmuClient(config) as client:
        started = time.perf_counter()
        programme = client.fetch(api_path("programme", day))
        races = programme_races(json.loads(programme.body))
        items = [
            (api_path(endpoint, day, r.meeting_num, r.race_num), None)
            for endpoint in ENDPOINT_NAMES[1:]
            for r in races
        ]
        results = client.fetch_many(items)
        seconds = time.perf_counter() - started
    if any(r.status == "failed" for r in [programme, *results]):
        raise RuntimeError("fetch failed")
    size = sum(len(r.body or b"") for r in [programme, *results])
    return seconds, 1 + len(items), size


def time_dbt(url: str, day: date) -> float:
    """`dbt build` of the day's window in a fresh target folder: a new window's vars void dbt's
    partial parse anyway, so each daily run (direct or from Dagster) parses the project in full."""
    dbt = Path(sys.executable).parent / "dbt"
    env = {**os.environ, **db.dbt_env(url), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    target = PROJECT_ROOT / "dbt_project" / "target" / f"bench_daily_run_{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    subprocess.run(
        [
            str(dbt),
            "build",
            "--exclude-resource-type",
            "unit_test",
            "--vars",
            json.dumps(window_vars(day, day)),
            "--profiles-dir",
            ".",
            "--quiet",
            "--target-path",
            str(target),
        ],
        cwd=PROJECT_ROOT / "dbt_project",
        env=env,
        check=True,
    )
    seconds = time.perf_counter() - started
    shutil.rmtree(target, ignore_errors=True)
    return seconds


def time_dagster(url: str, base_url: str, day: date) -> tuple[float, dict[str, float], dict[str, float]]:
    import dagster as dg

    import orchestration
    from orchestration.resources import PmuApiResource, PostgresResource

    resources = {
        **orchestration.defs.resources,
        "postgres": PostgresResource(url=url),
        "pmu_api": PmuApiResource(base_url=base_url, requests_per_second=None),
    }
    os.environ.update(db.dbt_env(url))
    with dg.instance_for_test() as instance:
        started = time.perf_counter()
        # the daily path only: training and scoring (group modeling) are not in the direct baseline
        result = dg.materialize(
            [*orchestration.defs.assets, *orchestration.defs.asset_checks],
            selection=dg.AssetSelection.all() - dg.AssetSelection.groups("modeling"),
            partition_key=day.isoformat(),
            resources=resources,
            instance=instance,
        )
        seconds = time.perf_counter() - started
        if not result.success:
            raise RuntimeError("Dagster run failed")
        starts, steps, by_step = {}, defaultdict(float), {}
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is None or event.step_key is None:
                continue
            if event.event_type_value == "STEP_START":
                starts[event.step_key] = entry.timestamp
            elif event.event_type_value == "STEP_SUCCESS":
                key = event.step_key
                kind = "raw" if key.startswith("raw__") else "dbt" if key.startswith("dbt_") else "checks"
                steps[kind] += entry.timestamp - starts[key]
                by_step[key] = round(entry.timestamp - starts[key], 2)
    return seconds, {kind: round(value, 2) for kind, value in steps.items()}, by_step


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", default="2025-11-16", help="a day of ../shared/pmu/replay (YYYY-MM-DD)")
    args = parser.parse_args()
    day = date.fromisoformat(args.day)
    root = _common.shared_recordings("replay", "daily_run")
    if not (root / f"{day_code(day)}.json").is_file():
        print(f"bench/daily_run: no recording of {day} under {root} (set PMU_SHARED_DIR)", file=sys.stderr)
        return 1
    # the replay server in its own process: the fetch is timed without serving in this process
    with _common.replay_server_process(root) as server:
        config = ClientConfig(base_url=server.base_url, requests_per_second=None)
        with _common.scratch_database() as direct_url:
            fetch_s, requests, size = time_fetch(config, day)
            started = time.perf_counter()
            report = ingest_day(day, config=config, db_url=direct_url)
            ingest_s = time.perf_counter() - started
            if report.failed:
                raise RuntimeError(f"ingest failed: {report.failed[:3]}")
            dbt_s = time_dbt(direct_url, day)
        direct_s = fetch_s + max(ingest_s - fetch_s, 0.0) + dbt_s
        with _common.scratch_database() as dagster_url:
            dagster_s, dagster_steps, dagster_by_step = time_dagster(dagster_url, server.base_url, day)

    figures = {
        "day": day.isoformat(),
        "races": report.races,
        "requests": requests,
        "mb_fetched": round(size / 1e6, 3),
        "bodies_new": report.bodies_new,
        "direct_s": {
            "fetch": round(fetch_s, 2),
            "land": round(max(ingest_s - fetch_s, 0.0), 2),
            "dbt": round(dbt_s, 2),
            "total": round(direct_s, 2),
        },
        "dagster_s": {"total": round(dagster_s, 2), "steps": dagster_steps, "by_step": dagster_by_step},
        "ratio": round(dagster_s / direct_s, 3),
        "baseline": "direct path (extractor + dbt build, no Dagster), same day, same run",
        "polite_fetch_floor_s": round(requests / POLITE_RPS, 1) if POLITE_RPS else None,
        "cpu_count": os.cpu_count(),
    }
    d = figures["direct_s"]
    _common.write_results(
        "daily_run",
        figures,
        f"daily_run {day}: {report.races} races, {requests} requests, {figures['mb_fetched']} MB; direct "
        f"{d['total']}s (fetch {d['fetch']}s, land {d['land']}s, dbt {d['dbt']}s); "
        f"Dagster {dagster_s:.1f}s (steps {dagster_steps}); ratio {figures['ratio']}x; "
        f"at {POLITE_RPS} req/s the fetch alone takes {figures['polite_fetch_floor_s']}s",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
