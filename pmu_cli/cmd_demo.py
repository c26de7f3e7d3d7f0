"""`pmu demo`: the whole pipeline from nothing on synthetic days, step by step, with where the
time went.

1. database: the embedded PostgreSQL (or PMU_DATABASE_URL) with its schemas;
2. synth: a world of horses simulated over `--days` days of history plus "today";
3. land: each day through the real extractor over HTTP from two replay servers on 127.0.0.1, the
   morning snapshot first, then (for past days) the final one, as a live system sees a day;
4. dbt: `dbt build` of staging, core and feature marts with their tests;
5. evaluate: walk-forward evaluation of the model against the market and the known truth;
6. train + score: a model on all history, promoted, scoring "today" into modeling.predictions.

Each step returns a one-line summary; the timings close the run."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from pmu_core import db
from pmu_core.dbt import DBT_PROJECT, run_dbt
from pmu_core.replay_server import ReplayServerThread
from pmu_core.settings import load_settings

DEMO_TODAY = date(2025, 11, 30)
MORNING_ENDPOINTS = ("programme", "participants")  # fixed, so that two demos tell the same story


def _step_database(ctx: dict) -> str:
    ctx["database_url"] = db.ensure_database()
    settings = load_settings()
    where = "PMU_DATABASE_URL" if settings.database_url else f"embedded, {settings.pgdata}"
    return f"PostgreSQL ready ({where}), schemas {', '.join(db.SCHEMAS)}"


def _step_synth(ctx: dict) -> str:
    from synth import generate

    args = ctx["args"]
    out = load_settings().home / "demo" / "synth"
    summary = generate(
        ctx["first_day"], ctx["today"], out, seed=args.seed, meetings_per_day=args.meetings_per_day
    )
    ctx["synth_dir"] = out
    return (
        f"{summary['days']} days, {summary['races']} races written to {out} "
        f"(final snapshot, morning/ snapshot, truth/)"
    )


def _step_land(ctx: dict) -> str:
    from extract.client import ClientConfig
    from extract.ingest import ingest_day

    synth_dir: Path = ctx["synth_dir"]
    totals = {
        "bodies_new": 0,
        "bodies_unchanged": 0,
        "not_published": 0,
        "rejected": 0,
        "failed": 0,
        "bytes_landed": 0,
    }
    with ReplayServerThread(synth_dir / "morning") as morning, ReplayServerThread(synth_dir) as final:
        day = ctx["first_day"]
        while day <= ctx["today"]:
            # The morning run lands what the 08:00 schedule lands (programme, participants with the
            # morning odds); the evening run lands the rest once results are out.
            passes = [(morning, MORNING_ENDPOINTS)]
            if day < ctx["today"]:
                passes.append((final, None))
            for server, endpoints in passes:
                config = ClientConfig(base_url=server.base_url, requests_per_second=None, max_workers=4)
                report = ingest_day(day, config=config, db_url=ctx["database_url"], only=endpoints).as_dict()
                for key in totals:
                    value = report.get(key, 0)
                    totals[key] += len(value) if isinstance(value, list) else int(value or 0)
            day += timedelta(days=1)
    if totals["failed"] or totals["rejected"]:
        raise RuntimeError(f"landing had failures: {totals}")
    return (
        f"{totals['bodies_new']} bodies landed ({totals['bytes_landed'] / 1e6:.1f} MB), "
        f"{totals['bodies_unchanged']} unchanged, {totals['not_published']} not published"
    )


def _step_dbt(ctx: dict) -> str:
    # unit tests check the SQL, not the data: CI runs them (make test)
    run_dbt(ctx["database_url"], "build", "--quiet", "--exclude", "resource_type:unit_test")
    run_results = json.loads((DBT_PROJECT / "target" / "run_results.json").read_text())
    statuses: dict[str, int] = {}
    for node in run_results["results"]:
        statuses[node["status"]] = statuses.get(node["status"], 0) + 1
    return "dbt build: " + ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))


def _pmu(*argv: str) -> None:
    from pmu_cli.main import main

    code = main(list(argv))
    if code:
        raise RuntimeError(f"pmu {' '.join(argv)} exited {code}")


def _step_evaluate(ctx: dict) -> str:
    last_past_day = ctx["today"] - timedelta(days=1)
    _pmu(
        "evaluate",
        "--start",
        ctx["first_day"].isoformat(),
        "--end",
        last_past_day.isoformat(),
        "--truth",
        str(ctx["synth_dir"] / "truth"),
        "--min-train-days",
        str(ctx["args"].min_train_days),
        "--test-days",
        "7",
    )
    return "walk-forward evaluation written (metrics JSON and plots under PMU_HOME/evaluations)"


def _step_train_and_score(ctx: dict) -> str:
    last_past_day = ctx["today"] - timedelta(days=1)
    _pmu("train", "--start", ctx["first_day"].isoformat(), "--end", last_past_day.isoformat(), "--promote")
    _pmu("score", "--date", ctx["today"].isoformat())
    with db.connection(ctx["database_url"]) as conn, conn.cursor() as cur:
        cur.execute(
            "select count(distinct race_id), count(*) from modeling.predictions p "
            "join marts.race r using (race_id) where r.race_date = %s",
            (ctx["today"],),
        )
        races, runners = cur.fetchone()
    return f"model trained and promoted; {runners} runners of {races} races scored for {ctx['today']}"


STEPS: list[tuple[str, Callable[[dict], str]]] = [
    ("database", _step_database),
    ("synth", _step_synth),
    ("land", _step_land),
    ("dbt", _step_dbt),
    ("evaluate", _step_evaluate),
    ("train+score", _step_train_and_score),
]


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="the whole pipeline end to end on synthetic replayed days")
    parser.add_argument("--days", type=int, default=70, help="days of history before 'today'")
    parser.add_argument("--meetings-per-day", type=float, default=5.0, help="size of each synthetic day")
    parser.add_argument("--min-train-days", type=int, default=42, help="history before the first test week")
    parser.add_argument("--seed", type=int, default=7)
    parser.set_defaults(func=run_demo)


def run_demo(args) -> int:
    ctx: dict = {"args": args, "today": DEMO_TODAY, "first_day": DEMO_TODAY - timedelta(days=args.days)}
    timings: list[tuple[str, float]] = []
    if os.environ.get("PMU_DEMO_INSTALL_SECONDS"):  # set by `make demo`
        timings.append(("install", float(os.environ["PMU_DEMO_INSTALL_SECONDS"])))
    for name, step in STEPS:
        started = time.perf_counter()
        summary = step(ctx)
        timings.append((name, time.perf_counter() - started))
        print(f"[{name}] {summary} ({timings[-1][1]:.1f}s)", flush=True)
    total = sum(seconds for _, seconds in timings)
    print(f"\ndemo done in {total:.1f}s: " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings))
    return 0
