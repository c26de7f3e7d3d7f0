"""`pmu demo`: the whole pipeline from nothing on synthetic days, step by step, with where the
time went.

1. database: the embedded PostgreSQL (or PMU_DATABASE_URL) with its schemas;
2. synth: a world of horses simulated over `--days` days of history plus "today";
3. land: each day through the real extractor over HTTP from two replay servers on 127.0.0.1, the
   morning snapshot first, then (for past days) the final one, as a live system sees a day;
4. dbt: `dbt build` of staging, core and feature marts with their tests;
5. train + evaluate: a model on all history, promoted, and its walk-forward evaluation against
   the market and the known truth;
6. score: "today" into modeling.predictions (and the drift of the model's inputs);
7. results: today's results land, the warehouse and the accuracy mart are built again.

From `land` on, every step is a run of the project's Dagster assets in this process, on the
project's instance (PMU_HOME/dagster), so `pmu ui` afterwards shows every asset materialised and
every check evaluated; the assets call the service layer (pipeline/). Each step returns a one-line
summary; the timings and what to open next close the run."""

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


class DagsterRunner:
    """Runs the project's assets in this process on the project's own Dagster instance
    (DAGSTER_HOME = PMU_HOME/dagster, orchestration/instance.py), so that `pmu ui` afterwards shows
    every materialisation, its metadata and every check evaluated."""

    def __init__(self, db_url: str) -> None:
        import dagster as dg

        import orchestration
        from orchestration.instance import dagster_home, write_instance

        home = dagster_home(load_settings())
        write_instance(home)
        self.instance = dg.DagsterInstance.from_config(str(home))
        self.defs = orchestration.defs
        self.db_url = db_url
        self.runs = 0

    def resources(self, base_url: str | None = None) -> dict:
        from orchestration.resources import PmuApiResource, PostgresResource

        resources = dict(self.defs.resources)
        resources["postgres"] = PostgresResource(url=self.db_url)
        # replayed days need no politeness: no rate limit, the extractor's workers
        resources["pmu_api"] = PmuApiResource(base_url=base_url, requests_per_second=None, max_workers=4)
        return resources

    def materialize(
        self,
        selection,
        first: date | None = None,
        last: date | None = None,
        *,
        base_url=None,
        run_config=None,
    ):
        """One run of the selected assets (and their checks) over the days first..last (a
        single-run backfill), raising with the failed steps' messages when it fails."""
        import dagster as dg

        tags = {"pmu/trigger": "demo"}
        if first is not None:
            tags |= {
                "dagster/asset_partition_range_start": first.isoformat(),
                "dagster/asset_partition_range_end": (last or first).isoformat(),
            }
        result = dg.materialize(
            [*self.defs.assets, *self.defs.asset_checks],
            selection=selection,
            instance=self.instance,
            resources=self.resources(base_url),
            tags=tags,
            # the demo prints one line per step: Dagster's own events are in the UI
            run_config={**(run_config or {}), "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            raise_on_error=False,
        )
        self.runs += 1
        if not result.success:
            failures = [
                e.step_failure_data.error.message.strip()
                for e in result.all_events
                if e.event_type_value == "STEP_FAILURE" and e.step_failure_data.error
            ]
            raise RuntimeError(f"Dagster run {result.run_id} failed: " + " | ".join(failures)[:3000])
        return result


def _summary(result) -> str:
    checks = result.get_asset_check_evaluations()
    failed = sorted(f"{c.asset_key.path[-1]}:{c.check_name}" for c in checks if not c.passed)
    text = f"{len(result.get_asset_materialization_events())} materialisations, {len(checks)} checks"
    return text + (f" ({len(failed)} not passed: {', '.join(failed[:5])})" if failed else "")


def _keys(*names: str):
    import dagster as dg

    return dg.AssetSelection.assets(*(dg.AssetKey(name.split("/")) for name in names))


def _raw(*endpoints: str):
    import dagster as dg

    from orchestration.raw_assets import raw_asset_key

    return dg.AssetSelection.assets(*(raw_asset_key(e) for e in endpoints))


def _step_land(ctx: dict) -> str:
    from pmu_core.facts import ENDPOINT_NAMES
    from pmu_core.replay_server import ReplayServerThread

    runner = ctx.setdefault("dagster", DagsterRunner(ctx["database_url"]))
    synth_dir, yesterday = ctx["synth_dir"], ctx["today"] - timedelta(days=1)
    # What the 08:00 schedule lands (programme, participants with the morning odds) for every
    # day, then the rest once results are out for every day before today.
    with ReplayServerThread(synth_dir / "morning") as morning, ReplayServerThread(synth_dir) as final:
        first = runner.materialize(
            _raw(*MORNING_ENDPOINTS), ctx["first_day"], ctx["today"], base_url=morning.base_url
        )
        second = runner.materialize(
            _raw(*ENDPOINT_NAMES), ctx["first_day"], yesterday, base_url=final.base_url
        )
    return f"raw assets, morning run: {_summary(first)}; evening run: {_summary(second)}"


def _step_dbt(ctx: dict) -> str:
    import dagster as dg

    runner = ctx["dagster"]
    dbt = dg.AssetSelection.assets(*[d for d in runner.defs.assets if d.node_def.name.startswith("dbt_")])
    ctx["dbt_selection"] = dbt
    result = runner.materialize(dbt, ctx["first_day"], ctx["today"])
    return f"dbt build through Dagster: {_summary(result)}"


def _step_train_and_evaluate(ctx: dict) -> str:
    from orchestration.ml_assets import EVALUATION_KEY, MODEL_KEY

    last_past_day = ctx["today"] - timedelta(days=1)
    run_config = {
        "ops": {
            MODEL_KEY.to_python_identifier(): {"config": {"end": last_past_day.isoformat(), "promote": True}},
            EVALUATION_KEY.to_python_identifier(): {
                "config": {
                    "min_train_days": ctx["args"].min_train_days,
                    "test_days": 7,
                    "truth_dir": str(ctx["synth_dir"] / "truth"),
                }
            },
        }
    }
    result = ctx["dagster"].materialize(
        _keys(MODEL_KEY.to_user_string(), EVALUATION_KEY.to_user_string()), run_config=run_config
    )
    return f"modeling/model trained and promoted, modeling/evaluation: {_summary(result)}"


def _step_score(ctx: dict) -> str:
    from orchestration.drift_assets import DRIFT_KEY
    from orchestration.ml_assets import PREDICTIONS_KEY

    runner = ctx["dagster"]
    result = runner.materialize(
        _keys(PREDICTIONS_KEY.to_user_string(), DRIFT_KEY.to_user_string()), ctx["today"], ctx["today"]
    )
    return f"{ctx['today']} scored into modeling.predictions (and its drift): {_summary(result)}"


def _step_results(ctx: dict) -> str:
    from pmu_core.facts import ENDPOINT_NAMES
    from pmu_core.replay_server import ReplayServerThread

    runner, today = ctx["dagster"], ctx["today"]
    # the evening of "today": its results land, the warehouse and the accuracy mart follow
    with ReplayServerThread(ctx["synth_dir"]) as final:
        result = runner.materialize(
            _raw(*ENDPOINT_NAMES) | ctx["dbt_selection"], today, today, base_url=final.base_url
        )
    with db.connection(ctx["database_url"]) as conn, conn.cursor() as cur:
        cur.execute(
            "select coalesce(sum(races), 0), avg(log_loss) from marts.ml_model_daily_accuracy"
            " where race_date = %s",
            (today,),
        )
        races, log_loss = cur.fetchone()
    ctx["scored_races_with_results"] = int(races)
    loss = "" if log_loss is None else f", log loss {log_loss:.3f}"
    return f"{today}'s results landed and built ({_summary(result)}); accuracy mart: {races} races{loss}"


STEPS: list[tuple[str, Callable[[dict], str]]] = [
    ("database", _step_database),
    ("synth", _step_synth),
    ("land", _step_land),
    ("dbt", _step_dbt),
    ("train+evaluate", _step_train_and_evaluate),
    ("score", _step_score),
    ("results", _step_results),
]


def next_steps(ctx: dict, commands: set[str]) -> str:
    """What to open after the demo; `pmu serve` only when this build has it."""
    synth = ctx.get("synth_dir")
    lines = [
        "What to open next:",
        f"  pmu ui --replay {synth}/morning --now {ctx['today']}T07:50   # Dagster: every asset, check, run",
        "  pmu docs                          # dbt docs: models, columns, lineage, exposures, metrics",
    ]
    if "serve" in commands:
        lines.append("  pmu serve                         # the prediction API")
    lines += [
        "  pmu models list                   # registered models with their evaluation",
        "  pmu db psql, then:",
        "    select race_start_at, hippodrome_name, num_pmu, horse_name,",
        "           round(probability::numeric, 3) as p, market_odds, round(edge::numeric, 2) as edge",
        f"    from marts.predictions_current where race_date = '{ctx['today']}' and is_value_bet",
        "    order by race_start_at, edge desc;",
    ]
    return "\n".join(lines)


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
    print("\n" + next_steps(ctx, _commands()))
    return 0


def _commands() -> set[str]:
    from pmu_cli.main import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    return set(subparsers.choices)
