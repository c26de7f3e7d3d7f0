"""`pmu demo`: the whole pipeline from nothing on synthetic days, step by step, with where the
time went.

1. database: the embedded PostgreSQL (or PMU_DATABASE_URL) with its schemas;
2. synth: a world of horses simulated over `--days` days of history plus "today";
3. land: each day through the real extractor over HTTP from two replay servers on 127.0.0.1, the
   morning snapshot first, then (for past days) the final one, as a live system sees a day;
4. dbt: `dbt build` of staging, core and feature marts with their tests;
5. evaluate: walk-forward evaluation of the model against the market and the known truth;
6. train + score: a model on all history, promoted, scoring "today" into modeling.predictions.

Each step is a verb of the service layer (pipeline/) with this command's own printing; it returns
a one-line summary and the timings close the run."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import date, timedelta

from pmu_core import db
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
    written = f"{summary['days']} days, {summary['races']} races written to {out}"
    return f"{written} (final snapshot, morning/ snapshot, truth/)"


def _step_land(ctx: dict) -> str:
    from pipeline.land import ReplayPass, land_replayed

    synth_dir = ctx["synth_dir"]
    # The morning run lands what the 08:00 schedule lands (programme, participants with the morning
    # odds); the evening run lands the rest once results are out, for every day before today.
    passes = [
        ReplayPass(synth_dir / "morning", only=MORNING_ENDPOINTS),
        ReplayPass(synth_dir, until=ctx["today"] - timedelta(days=1)),
    ]
    days = [ctx["first_day"] + timedelta(days=i) for i in range((ctx["today"] - ctx["first_day"]).days + 1)]
    report = land_replayed(passes, days, ctx["database_url"])
    if report.failed or report.rejected:
        raise RuntimeError(f"landing had failures: {report.as_dict()}")
    return (
        f"{report.bodies_new} bodies landed ({report.bytes_landed / 1e6:.1f} MB), "
        f"{report.bodies_unchanged} unchanged, {report.not_published} not published"
    )


def _step_dbt(ctx: dict) -> str:
    from pipeline.build import build, describe

    return "dbt build: " + describe(build(ctx["database_url"]))


def _step_evaluate(ctx: dict) -> str:
    from pipeline.modeling import EvaluationSettings, Recipe, evaluate

    settings = EvaluationSettings(
        min_train_days=ctx["args"].min_train_days, test_days=7, truth_dir=ctx["synth_dir"] / "truth"
    )
    last_past_day = ctx["today"] - timedelta(days=1)
    _, out = evaluate(ctx["database_url"], ctx["first_day"], last_past_day, Recipe(), settings=settings)
    return f"walk-forward evaluation written (metrics JSON and plots in {out})"


def _step_train_and_score(ctx: dict) -> str:
    from pipeline.modeling import Recipe, train
    from pipeline.scoring import score

    last_past_day = ctx["today"] - timedelta(days=1)
    trained = train(ctx["database_url"], ctx["first_day"], last_past_day, Recipe(), promote=True)
    scored = score(ctx["database_url"], [ctx["today"]])
    return (
        f"model {trained.record.label} trained and promoted; {scored['runners']} runners of "
        f"{scored['races']} races scored for {ctx['today']}"
    )


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
