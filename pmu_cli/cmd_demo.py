"""`pmu demo`: the whole pipeline from nothing on synthetic days, through Dagster, step by step,
with where the time went.

1. database: the embedded PostgreSQL (or PMU_DATABASE_URL) with its schemas;
2. synth: a world of horses simulated over `--days` days of history plus "today";
3. dagster: the project's instance (DAGSTER_HOME under PMU_HOME, the one `pmu ui` opens) and
   definitions; every step below is a run of the project's assets in this process on it
   (orchestration/in_process.py), so the UI then shows each asset materialised with its metadata
   and each check evaluated;
4. land: the raw assets over HTTP from two replay servers on 127.0.0.1, as a live system sees each
   day: one run over every day from the morning snapshot (programme, participants with the morning
   odds), then one over every past day from the final snapshot (results, rapports);
5. dbt: the warehouse models over all days in one run, with their tests as checks;
6. train+evaluate: a model on all history with results, promoted, then its walk-forward evaluation
   against the market and the known truth;
7. score: "today" scored at the demo's morning (after its morning snapshot, before its first
   start), with the drift of the inputs and the consumer marts;
8. results: today's final snapshot and results landed that evening, the warehouse rebuilt for the
   day, open bets settled and today's publication judged in marts.ml_model_daily_accuracy.

The assets call the service layer (pipeline/, extract/); this command only chooses the runs and
prints. The timings close the run, then what to open next."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as clock_time

from pmu_core import db
from pmu_core.facts import MORNING_SNAPSHOT_ENDPOINTS, PARIS
from pmu_core.settings import load_settings

DEMO_TODAY = date(2025, 11, 30)
# The demo's clock on "today": its morning snapshot is captured 09:00-09:10 Paris and its first
# start is after 10:30 (synth), its final snapshot is captured from 23:30.
MORNING_AT = clock_time(9, 30)
EVENING_AT = clock_time(23, 55)
TAGS = {"pmu/trigger": "demo"}


def demo_clock(day: date, at: clock_time) -> datetime:
    return datetime.combine(day, at, PARIS)


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


def _step_dagster(ctx: dict) -> str:
    import orchestration
    from orchestration.instance import dagster_home, default_storage, open_instance

    home = dagster_home(load_settings())
    storage = default_storage()
    ctx["instance"] = open_instance(home, ctx["database_url"], storage)
    ctx["defs"] = orchestration.defs
    graph = ctx["defs"].resolve_asset_graph()
    return (
        f"instance {home} ({storage} storage), {len(graph.get_all_asset_keys())} assets and "
        f"{len(graph.asset_check_keys)} checks defined"
    )


# --- the runs -------------------------------------------------------------------------------------


def _selections():
    """The demo's asset selections (built when used: Dagster is imported by the dagster step)."""
    import dagster as dg

    from orchestration.drift_assets import DRIFT_KEY
    from orchestration.ml_assets import BETS_KEY, EVALUATION_KEY, MODEL_KEY, PREDICTIONS_KEY
    from orchestration.raw_assets import raw_asset_key
    from pmu_core.facts import ENDPOINT_NAMES

    raw = dg.AssetSelection.assets(*(raw_asset_key(e) for e in ENDPOINT_NAMES))
    training = dg.AssetSelection.assets(MODEL_KEY, EVALUATION_KEY)
    scoring = dg.AssetSelection.assets(PREDICTIONS_KEY).downstream()  # drift, the consumer marts
    settling = dg.AssetSelection.assets(BETS_KEY).downstream()
    return {
        "morning": dg.AssetSelection.assets(*(raw_asset_key(e) for e in MORNING_SNAPSHOT_ENDPOINTS)),
        "final": raw,
        # the models the training reads, and the rest of the warehouse that needs no scoring
        "warehouse": dg.AssetSelection.all() - raw - training - scoring - settling,
        "training": training,
        "scoring": scoring,
        # the day's results: everything but the model and the day's (pre-race) publication
        "results": dg.AssetSelection.all() - training - dg.AssetSelection.assets(PREDICTIONS_KEY, DRIFT_KEY),
    }


def _run(ctx: dict, selection: str, days: tuple[date, date] | None, **options):
    from orchestration.in_process import materialize_days
    from orchestration.resources import PostgresResource

    resources = {"postgres": PostgresResource(url=ctx["database_url"]), **options.pop("resources", {})}
    result = materialize_days(
        ctx["defs"],
        ctx["selections"][selection],
        days,
        instance=ctx["instance"],
        resources=resources,
        tags={**TAGS, "pmu/demo_step": selection},
        log_level="WARNING",  # the steps' events are in the UI; here, one line per step
        **options,
    )
    ctx["runs"].append(result.run_id)
    return result


def _replay_api(server):
    """The API resource on a replay server: no politeness needed, as pipeline.land replays."""
    from orchestration.resources import PmuApiResource
    from pipeline.land import REPLAY_CLIENT

    return PmuApiResource(
        base_url=server.base_url,
        requests_per_second=REPLAY_CLIENT.requests_per_second,
        max_workers=REPLAY_CLIENT.max_workers,
    )


def _landed(results) -> str:
    from orchestration.in_process import latest_metadata

    landed = [
        meta for result in results for key, meta in latest_metadata(result).items() if key.path[0] == "raw"
    ]
    total = {k: sum(m.get(k, 0) for m in landed) for k in ("bodies_new", "bodies_unchanged", "not_published")}
    megabytes = sum(m.get("mb_landed", 0) for m in landed)
    return (
        f"{total['bodies_new']} bodies landed ({megabytes:.1f} MB), {total['bodies_unchanged']} unchanged, "
        f"{total['not_published']} not published"
    )


def _checked(result) -> str:
    from orchestration.in_process import check_outcomes, latest_metadata

    outcomes = check_outcomes(result)
    return (
        f"{len(latest_metadata(result))} assets materialised, {outcomes['passed']} checks passed, "
        f"{outcomes['failed']} did not (warnings included: see the UI)"
    )


def _step_land(ctx: dict) -> str:
    from pmu_core.replay_server import ReplayServerThread

    ctx["selections"] = _selections()
    morning_clock = demo_clock(ctx["today"], MORNING_AT)
    # The morning run lands the morning snapshot (programme, participants with the morning odds)
    # for every day, today included; the final run lands the rest once results are out, for
    # every day before today. Each day's morning body is landed before its final one.
    with ReplayServerThread(ctx["synth_dir"] / "morning") as morning:
        first = _run(
            ctx,
            "morning",
            (ctx["first_day"], ctx["today"]),
            resources={"pmu_api": _replay_api(morning)},
            now=morning_clock,
        )
    with ReplayServerThread(ctx["synth_dir"]) as final:
        second = _run(
            ctx,
            "final",
            (ctx["first_day"], ctx["today"] - timedelta(days=1)),
            resources={"pmu_api": _replay_api(final)},
            now=morning_clock,
        )
    return f"2 runs: {_landed([first, second])}"


def _step_dbt(ctx: dict) -> str:
    result = _run(
        ctx, "warehouse", (ctx["first_day"], ctx["today"]), now=demo_clock(ctx["today"], MORNING_AT)
    )
    return f"dbt build of every day in one run: {_checked(result)}"


def _step_train_and_evaluate(ctx: dict) -> str:
    from orchestration.in_process import latest_metadata
    from orchestration.ml_assets import EVALUATION_KEY, MODEL_KEY

    evaluation = {
        "min_train_days": ctx["args"].min_train_days,
        "test_days": 7,
        "truth_dir": str(ctx["synth_dir"] / "truth"),
    }
    run_config = {
        "ops": {
            MODEL_KEY.to_python_identifier(): {"config": {"promote": True}},
            EVALUATION_KEY.to_python_identifier(): {"config": evaluation},
        }
    }
    result = _run(ctx, "training", None, run_config=run_config, now=demo_clock(ctx["today"], MORNING_AT))
    meta = latest_metadata(result)
    model, evaluated = meta[MODEL_KEY], meta.get(EVALUATION_KEY)
    trained = f"model {model['model']} trained on {model['train_start']}..{model['train_end']} and promoted"
    if evaluated is None:
        return f"{trained}; too few days for a walk-forward evaluation"
    return (
        f"{trained}; walk-forward over {evaluated['held_out_races']} held-out races: pseudo-R² model "
        f"{evaluated['pseudo_r2_model']:.4f}, market {evaluated['pseudo_r2_market']:.4f}, combined "
        f"{evaluated['pseudo_r2_combined']:.4f} (metrics and plots in {evaluated['output']})"
    )


def _step_score(ctx: dict) -> str:
    from orchestration.in_process import latest_metadata
    from orchestration.ml_assets import PREDICTIONS_KEY

    at = demo_clock(ctx["today"], MORNING_AT)
    result = _run(ctx, "scoring", (ctx["today"], ctx["today"]), now=at)
    scored = latest_metadata(result)[PREDICTIONS_KEY]
    return (
        f"{scored['runners_scored']} runners of {scored['races_scored']} races of {ctx['today']} scored by "
        f"{scored['model']}, published at {at:%H:%M} Paris; {_checked(result)}"
    )


def _step_results(ctx: dict) -> str:
    from pmu_core.replay_server import ReplayServerThread

    with ReplayServerThread(ctx["synth_dir"]) as final:
        result = _run(
            ctx,
            "results",
            (ctx["today"], ctx["today"]),
            resources={"pmu_api": _replay_api(final)},
            now=demo_clock(ctx["today"], EVENING_AT),
        )
    accuracy = today_accuracy(ctx["database_url"], ctx["today"])
    if accuracy is None:
        raise RuntimeError(f"marts.ml_model_daily_accuracy has no row for {ctx['today']} after its results")
    judged = (
        f"{accuracy['model']} on {accuracy['races']} races: log loss {accuracy['log_loss']:.4f} "
        f"(market {accuracy['market_log_loss']:.4f}), top pick won {accuracy['hit_rate']:.0%}"
    )
    return f"{_landed([result])}; {_checked(result)}; today judged: {judged}"


ACCURACY_QUERY = (
    "select model_name || '@' || model_version, races, log_loss, market_log_loss, hit_rate"
    " from marts.ml_model_daily_accuracy where race_date = %s order by model_id desc limit 1"
)


def today_accuracy(url: str, day: date) -> dict | None:
    """The accuracy mart's row of `day` for the latest model that published it (None: no row)."""
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute(ACCURACY_QUERY, (day,))
        row = cur.fetchone()
    if row is None:
        return None
    return dict(zip(("model", "races", "log_loss", "market_log_loss", "hit_rate"), row, strict=True))


STEPS: list[tuple[str, Callable[[dict], str]]] = [
    ("database", _step_database),
    ("synth", _step_synth),
    ("dagster", _step_dagster),
    ("land", _step_land),
    ("dbt", _step_dbt),
    ("train+evaluate", _step_train_and_evaluate),
    ("score", _step_score),
    ("results", _step_results),
]


def next_steps(today: date, synth_dir) -> str:
    """What to open after the demo: its Dagster runs, the API and dashboard, SQL."""
    return "\n".join(
        [
            "next:",
            "  pmu ui                      Dagster UI, http://127.0.0.1:3000: each asset the demo built with",
            "                              its metadata and checks, the model's evaluation plots, the runs",
            f"  pmu ui --replay {synth_dir / 'morning'} --now {today}T07:50",
            "                              the same with the API on the demo's replay and its clock, so that",
            "                              the morning schedule and the sensors can run on its today",
            f"  pmu serve --today {today}   API and dashboard, http://127.0.0.1:8000 (/docs, /dashboard)",
            "  pmu db psql                 SQL: the accuracy by day, today's value bets",
            "      select race_date, model_name, races, log_loss, market_log_loss, hit_rate, roi",
            "        from marts.ml_model_daily_accuracy order by race_date;",
            "      select race_id, horse_name, jockey_name, probability, market_odds, edge",
            f"        from marts.predictions_current where race_date = '{today}' and is_value_bet",
            "        order by edge desc limit 10;",
        ]
    )


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="the whole pipeline end to end through Dagster on synthetic replayed days"
    )
    parser.add_argument("--days", type=int, default=70, help="days of history before 'today'")
    parser.add_argument("--meetings-per-day", type=float, default=5.0, help="size of each synthetic day")
    parser.add_argument("--min-train-days", type=int, default=42, help="history before the first test week")
    parser.add_argument("--seed", type=int, default=7)
    parser.set_defaults(func=run_demo)


def run_demo(args) -> int:
    ctx: dict = {
        "args": args,
        "today": DEMO_TODAY,
        "first_day": DEMO_TODAY - timedelta(days=args.days),
        "runs": [],
    }
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
    print(f"{len(ctx['runs'])} Dagster runs recorded on the instance `pmu ui` opens\n")
    print(next_steps(ctx["today"], ctx["synth_dir"]))
    return 0
