"""The whole daily path for one real-sized day, split by step, direct and through Dagster.

A real day of `../shared/pmu/replay` (default 16/11/2025: 110 races, programme and participants of
every race) is served by `pmu replay-server` in its own process (no rate limit). In the same run:

1. direct path, on a fresh database: `fetch` (every GET of the day through the extractor's client,
   no database), `ingest` (extract.ingest.ingest_day: the same GETs plus landing; `land` is the
   difference), `dbt` (`dbt build` of the project for that day's window, as the Dagster op runs it);
2. Dagster path, on another fresh database: `daily_job`'s assets and checks materialised
   in-process (`dagster.materialize`, the definitions loaded beforehand), with its steps' times,
   on a fresh instance with the project's storage (`--storage postgres`, the default: Dagster's
   tables in that database) or Dagster's sqlite test instance (`--storage sqlite`).

`--repeat N` alternates N direct and N Dagster rounds, each on a fresh database, and keeps the
fastest of each (all totals are in the JSON): the machine is shared.

The morning run with scoring (`morning`): the 08:00 run of the same day replayed from its morning
snapshot (../shared/pmu/history/morning, served at its capture time), on a warehouse that already
holds the `--train-days` days before it (morning then final snapshots, built by dbt) and a LightGBM
model trained on them and promoted (set up once, untimed, then copied to two databases). From the
run's start to the publication, per step: land the morning snapshot (programme, participants,
performances), dbt (build of the day's window), score + publish (pipeline.scoring.score, trigger
morning); directly, then as `morning_job` through Dagster (its drift step after the publication is
timed apart). Also the share of the day's races the publication covers, and whether it is out
within 5 minutes (the brief's 08:05) with the polite default rate limit: the measured time plus
what that limit alone adds (requests / rate, less the measured fetch).

The baseline is the direct path: `ratio` = Dagster wall time / direct wall time (the cost of the
orchestration), for both runs. Each Dagster run starts without a kept dbt parse of its window (as
the first run of a day does). Also reported: the time the polite default rate limit (4 requests/s)
alone puts under the fetch of that day on the live API, and the machine's load. Writes
bench/results/daily_run.json, prints one line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import _common
import psycopg2
from psycopg2 import sql

from extract.client import ClientConfig, PmuClient
from extract.ingest import ingest_day
from pipeline.build import window_vars
from pipeline.land import ReplayPass, land_replayed, recorded_days
from pmu_core import db
from pmu_core.dbt import run_dbt
from pmu_core.facts import ENDPOINT_NAMES, MORNING_RUN_ENDPOINTS, api_path, day_code
from pmu_core.programme import programme_races
from pmu_core.settings import PROJECT_ROOT

POLITE_RPS = ClientConfig(base_url="").requests_per_second
BENCH_MODEL = "bench_daily_run"
PUBLISHED_WITHIN_S = 300  # 08:00 -> 08:05


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


def time_dbt(url: str, day: date, selections: tuple[tuple[str, ...], ...] = ((),)) -> float:
    """`dbt build` of the day's window, once per selection, in one fresh target folder (the later
    builds reuse the first's parse, as Dagster's two dbt steps do): a new window's vars void dbt's
    partial parse anyway, so each daily run (direct or from Dagster) parses the project in full."""
    dbt = Path(sys.executable).parent / "dbt"
    env = {**os.environ, **db.dbt_env(url), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    target = PROJECT_ROOT / "dbt_project" / "target" / f"bench_daily_run_{uuid.uuid4().hex[:8]}"
    build = [str(dbt), "build", "--exclude-resource-type", "unit_test"]
    build += ["--vars", json.dumps(window_vars(day, day)), "--profiles-dir", ".", "--quiet"]
    started = time.perf_counter()
    for selection in selections:
        subprocess.run(
            [*build, "--target-path", str(target), *selection],
            cwd=PROJECT_ROOT / "dbt_project",
            env=env,
            check=True,
        )
    seconds = time.perf_counter() - started
    shutil.rmtree(target, ignore_errors=True)
    return seconds


def dagster_dbt_selections() -> tuple[tuple[str, ...], ...]:
    """The two builds `daily_job`'s dbt steps run: the day's models, then the tables rebuilt whole."""
    from orchestration.dbt_assets import DAILY_SELECT

    daily = DAILY_SELECT.split()
    return (("--select", *daily), ("--select", "fqn:*", "--exclude", *daily))


def step_kind(step_key: str) -> str:
    if step_key.startswith("raw__"):
        return "raw"
    if step_key.startswith("dbt_"):
        return "dbt"
    return {"modeling__predictions": "score", "modeling__feature_drift": "drift"}.get(step_key, "checks")


def forget_dbt_parse(day: date) -> None:
    """Drop the kept dbt parse of the day's window: the run measured parses as a day's first does."""
    from orchestration.dbt_assets import parse_cache_dir
    from orchestration.partitions import dbt_window_vars

    shutil.rmtree(parse_cache_dir(PROJECT_ROOT / "dbt_project", dbt_window_vars([day])), ignore_errors=True)


@contextmanager
def bench_instance(storage: str, url: str):
    """A fresh Dagster instance with the project's storage (`postgres`: orchestration.storage in
    the run's database, as `pmu ui` and `pmu demo` use it) or Dagster's test instance (`sqlite`)."""
    import dagster as dg

    from orchestration.instance import open_instance

    if storage == "sqlite":
        with dg.instance_for_test() as instance:
            yield instance
        return
    with tempfile.TemporaryDirectory() as home, open_instance(Path(home), url, storage) as instance:
        yield instance


def time_dagster(
    url: str, base_url: str, day: date, job: str, tags: dict | None = None, storage: str = "postgres"
) -> dict:
    """`job`'s assets and checks for the day, materialised in process on a fresh instance: the wall
    time, the steps' seconds by kind and by step, and when (seconds from the start) each ended."""
    import dagster as dg

    import orchestration
    from orchestration.resources import PmuApiResource, PostgresResource

    defs = orchestration.defs
    resources = {
        **defs.resources,
        "postgres": PostgresResource(url=url),
        "pmu_api": PmuApiResource(base_url=base_url, requests_per_second=None),
    }
    keys = defs.resolve_job_def(job).asset_layer.executable_asset_keys
    os.environ.update(db.dbt_env(url))
    forget_dbt_parse(day)
    with bench_instance(storage, url) as instance:
        started_wall, started = time.time(), time.perf_counter()
        result = dg.materialize(
            [*defs.assets, *defs.asset_checks],
            selection=dg.AssetSelection.assets(*keys),
            partition_key=day.isoformat(),
            resources=resources,
            instance=instance,
            tags=tags,
        )
        seconds = time.perf_counter() - started
        if not result.success:
            raise RuntimeError(f"Dagster run of {job} failed")
        starts, steps, by_step, ended = {}, defaultdict(float), {}, {}
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is None or event.step_key is None:
                continue
            if event.event_type_value == "STEP_START":
                starts[event.step_key] = entry.timestamp
            elif event.event_type_value == "STEP_SUCCESS":
                key = event.step_key
                steps[step_kind(key)] += entry.timestamp - starts[key]
                by_step[key] = round(entry.timestamp - starts[key], 2)
                ended[key] = round(entry.timestamp - started_wall, 2)
    return {
        "total": round(seconds, 2),
        "steps": {kind: round(value, 2) for kind, value in steps.items()},
        "by_step": by_step,
        "ended_at": ended,
    }


# ---- the morning run with scoring -----------------------------------------------------------------


def clone_database(template_url: str, name: str, server_url: str) -> str:
    """A copy of the database at `template_url` (CREATE DATABASE ... TEMPLATE): the same warehouse
    and model registry for the direct and the Dagster run; its URL."""
    template = db.connection_params(template_url)["dbname"]
    admin = psycopg2.connect(server_url)
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            statement = sql.SQL("create database {} template {}")
            cur.execute(statement.format(sql.Identifier(name), sql.Identifier(template)))
    finally:
        admin.close()
    return db.url_for_database(server_url, name)


def prepare_morning(url: str, history: Path, day: date, train_days: int) -> dict:
    """The `train_days` recorded days before `day` landed (morning then final) and built, a model
    trained on them and promoted: the warehouse a morning run finds (untimed)."""
    from pipeline.modeling import Recipe, train

    days = [d for d in recorded_days(history / "final") if d < day][-train_days:]
    if not days:
        raise SystemExit(f"bench/daily_run: no recorded day before {day} under {history}")
    started = time.perf_counter()
    land_replayed(
        [ReplayPass(history / "morning"), ReplayPass(history / "final")],
        days,
        url,
        client=_common.REPLAY_CLIENT,
    )
    with tempfile.TemporaryDirectory() as target:
        run_dbt(url, "build", "--exclude", "resource_type:unit_test", target_dir=Path(target))
    trained = train(url, days[0], days[-1], Recipe(name=BENCH_MODEL), promote=True)
    return {
        "train_days": len(days),
        "train_window": [days[0].isoformat(), days[-1].isoformat()],
        "model": trained.record.label,
        "train_races": trained.model.training["races"],
        "setup_s": round(time.perf_counter() - started, 1),
    }


def coverage(url: str, day: date) -> dict:
    """Races of the day, those with a field to score, and those the publication covers."""
    from ml import registry
    from ml.dataset import races_to_score
    from ml.scoring import published_races

    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from marts.race where race_date = %s", (day,))
        races = cur.fetchone()[0]
    record = registry.get_model(url, None)
    with_field = races_to_score(url, [day])
    published = published_races(url, record.id, [day]) & with_field
    return {
        "races": races,
        "races_with_a_field": len(with_field),
        "races_published": len(published),
        "share_of_races": round(len(published) / races, 3) if races else None,
        "share_of_races_with_a_field": round(len(published) / len(with_field), 3) if with_field else None,
    }


def time_morning_direct(url: str, base_url: str, day: date) -> dict:
    from pipeline.scoring import score

    config = ClientConfig(base_url=base_url, requests_per_second=None)
    started = time.perf_counter()
    report = ingest_day(day, config=config, db_url=url, only=MORNING_RUN_ENDPOINTS)
    land_s = time.perf_counter() - started
    if report.failed:
        raise RuntimeError(f"morning ingest failed: {report.failed[:3]}")
    dbt_s = time_dbt(url, day)
    started = time.perf_counter()
    totals = score(url, [day], trigger="morning")
    score_s = time.perf_counter() - started
    return {
        "land": round(land_s, 2),
        "dbt": round(dbt_s, 2),
        "score_publish": round(score_s, 2),
        "total": round(land_s + dbt_s + score_s, 2),
        "requests": report.requests,
        "races_scored": totals["races"],
    }


def morning_requests(base_url: str, day: date) -> int:
    """GETs of the morning run: the programme, then participants and performances of each race."""
    with PmuClient(ClientConfig(base_url=base_url, requests_per_second=None)) as client:
        races = programme_races(json.loads(client.fetch(api_path("programme", day)).body))
    return 1 + len(races) * (len(MORNING_RUN_ENDPOINTS) - 1)


def run_morning(history: Path, day: date, train_days: int, storage: str) -> dict:
    server_url = db.database_url()
    suffix = uuid.uuid4().hex[:8]
    names = [f"bench_morning_direct_{suffix}", f"bench_morning_dagster_{suffix}"]
    with _common.scratch_database("bench_morning_setup") as setup_url:
        setup = prepare_morning(setup_url, history, day, train_days)
        direct_url, dagster_url = (clone_database(setup_url, name, server_url) for name in names)
    try:
        with _common.replay_server_process(history / "morning") as server:
            requests = morning_requests(server.base_url, day)
            direct = time_morning_direct(direct_url, server.base_url, day)
            direct["coverage"] = coverage(direct_url, day)
            dagster = time_dagster(
                dagster_url,
                server.base_url,
                day,
                "morning_job",
                tags={"dagster/schedule_name": "morning_schedule"},
                storage=storage,
            )
            dagster["coverage"] = coverage(dagster_url, day)
    finally:
        for name in names:
            db.drop_database(name, server_url)
    published_s = dagster["ended_at"]["modeling__predictions"]
    polite_s = requests / POLITE_RPS if POLITE_RPS else 0.0
    # what the polite rate limit adds over the unthrottled landing just measured
    polite_extra_s = max(polite_s - direct["land"], 0.0)
    return {
        "setup": setup,
        "requests": requests,
        "direct_s": direct,
        "dagster_s": {**dagster, "to_publication": published_s},
        "ratio_to_publication": round(published_s / direct["total"], 3),
        "polite_fetch_floor_s": round(polite_s, 1),
        "published_at_polite_rate_s": {
            "direct": round(direct["total"] + polite_extra_s, 1),
            "dagster": round(published_s + polite_extra_s, 1),
        },
        "published_within_5_min_at_polite_rate": published_s + polite_extra_s <= PUBLISHED_WITHIN_S,
    }


def load_average() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", default="2025-11-16", help="a day of ../shared/pmu/replay (YYYY-MM-DD)")
    parser.add_argument("--train-days", type=int, default=14, help="recorded days before it the model learns")
    parser.add_argument("--no-morning", action="store_true", help="skip the morning run with scoring")
    parser.add_argument(
        "--storage",
        choices=("postgres", "sqlite"),
        default="postgres",
        help="Dagster's storage: the project's (postgres, the default of `pmu ui`) or sqlite",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="alternating direct/Dagster rounds; fastest kept"
    )
    args = parser.parse_args()
    day = date.fromisoformat(args.day)
    root = _common.shared_recordings("replay", "daily_run")
    if not (root / f"{day_code(day)}.json").is_file():
        print(f"bench/daily_run: no recording of {day} under {root} (set PMU_SHARED_DIR)", file=sys.stderr)
        return 1
    load_before = load_average()
    # the replay server in its own process: the fetch is timed without serving in this process
    directs, dagsters, two_dbt = [], [], []
    with _common.replay_server_process(root) as server:
        config = ClientConfig(base_url=server.base_url, requests_per_second=None)
        # rounds alternate direct and Dagster on fresh databases; the fastest of each is kept, so a
        # burst of load on the shared machine does not decide the ratio
        for _ in range(args.repeat):
            with _common.scratch_database() as direct_url:
                fetch_s, requests, size = time_fetch(config, day)
                started = time.perf_counter()
                report = ingest_day(day, config=config, db_url=direct_url)
                ingest_s = time.perf_counter() - started
                if report.failed:
                    raise RuntimeError(f"ingest failed: {report.failed[:3]}")
                dbt_s = time_dbt(direct_url, day)
            land_s = max(ingest_s - fetch_s, 0.0)
            directs.append(
                {"fetch": fetch_s, "land": land_s, "dbt": dbt_s, "total": fetch_s + land_s + dbt_s}
            )
            # the same two dbt builds as Dagster's steps, without Dagster: what the split costs
            with _common.scratch_database() as split_url:
                ingest_day(day, config=config, db_url=split_url)
                two_dbt.append(time_dbt(split_url, day, dagster_dbt_selections()))
            with _common.scratch_database() as dagster_url:
                dagsters.append(
                    time_dagster(dagster_url, server.base_url, day, "daily_job", storage=args.storage)
                )
    direct = min(directs, key=lambda d: d["total"])
    direct_s = direct["total"]
    dagster = min(dagsters, key=lambda d: d["total"])
    dagster.pop("ended_at")
    morning = None
    if not args.no_morning:
        history = _common.shared_recordings("history", "daily_run")
        morning = run_morning(history, day, args.train_days, args.storage)

    figures = {
        "day": day.isoformat(),
        "races": report.races,
        "requests": requests,
        "mb_fetched": round(size / 1e6, 3),
        "bodies_new": report.bodies_new,
        "direct_s": {step: round(seconds, 2) for step, seconds in direct.items()},
        "dagster_s": dagster,
        "ratio": round(dagster["total"] / direct_s, 3),
        "baseline": "direct path (extractor + dbt build, no Dagster), same day, same run",
        # Dagster's two dbt steps as two plain dbt builds: the floor of the split, apart from Dagster
        "two_dbt_builds_s": round(min(two_dbt), 2),
        "two_dbt_builds_ratio": round(min(two_dbt) / direct["dbt"], 3),
        "storage": args.storage,
        "rounds": args.repeat,
        "totals_s": {
            "direct": [round(d["total"], 2) for d in directs],
            "dagster": [round(d["total"], 2) for d in dagsters],
            "two_dbt_builds": [round(seconds, 2) for seconds in two_dbt],
        },
        "polite_fetch_floor_s": round(requests / POLITE_RPS, 1) if POLITE_RPS else None,
        "morning": morning,
        "cpu_count": os.cpu_count(),
        "load": {"before": load_before, "after": load_average()},
    }
    d = figures["direct_s"]
    line = (
        f"daily_run {day}: {report.races} races, {requests} requests, {figures['mb_fetched']} MB; direct "
        f"{d['total']}s (fetch {d['fetch']}s, land {d['land']}s, dbt {d['dbt']}s); "
        f"Dagster daily_job ({args.storage}, best of {args.repeat}) {dagster['total']:.1f}s "
        f"(steps {dagster['steps']}); ratio {figures['ratio']}x; Dagster's two dbt builds without it "
        f"{figures['two_dbt_builds_s']}s ({figures['two_dbt_builds_ratio']}x the one build); "
        f"at {POLITE_RPS} req/s the fetch alone takes {figures['polite_fetch_floor_s']}s"
    )
    if morning:
        m, md = morning, morning["direct_s"]
        line += (
            f"; morning run with scoring: direct {md['total']}s (land {md['land']}s, dbt {md['dbt']}s, "
            f"score+publish {md['score_publish']}s), "
            f"Dagster to publication {m['dagster_s']['to_publication']}s "
            f"(ratio {m['ratio_to_publication']}x), {m['dagster_s']['coverage']['races_published']}/"
            f"{m['dagster_s']['coverage']['races']} races published, "
            f"{m['published_at_polite_rate_s']['dagster']}s at the polite rate"
        )
    _common.write_results("daily_run", figures, line + f"; load {load_before.split('load average: ')[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
