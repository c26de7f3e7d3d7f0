"""Training, evaluation and scoring as Dagster assets, on the plain functions of `ml/`.

Lineage: features (dbt) -> modeling/model -> modeling/evaluation, and
features + modeling/model -> modeling/predictions (daily) -> the dbt accuracy mart, whose source
`modeling.predictions` is this asset's key.

- `modeling/model`: not partitioned; trains on a window of the feature mart (config, default: every
  day with results), registers a new version in modeling.models, promotes it when asked (or when its
  name has no production version yet, so that scoring has a model).
- `modeling/evaluation`: walk-forward evaluation of the model's recipe on its training window; plots
  and metrics saved, and stored on the model's registry row.
- `modeling/predictions`: the partition day(s) scored with the production model; with
  `only_moved_races` (the odds sensor's runs), only the races whose market or field changed since
  they were scored. Checks: probabilities sum to 1 per race, no race of the day left unscored,
  calibration of the last 30 days.
"""

import base64
import datetime as dt
import warnings
from pathlib import Path
from typing import Literal

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from orchestration.partitions import context_days, daily_partitions, single_run_backfill
from orchestration.resources import PostgresResource
from pmu_core import db

GROUP = "modeling"
MODEL_KEY = dg.AssetKey(["modeling", "model"])
EVALUATION_KEY = dg.AssetKey(["modeling", "evaluation"])
PREDICTIONS_KEY = dg.AssetKey(["modeling", "predictions"])
FEATURES_KEY = dg.AssetKey(["marts", "feat_runner_pre_race"])
RESULTS_KEY = dg.AssetKey(["marts", "fct_runner_result"])

CALIBRATION_DAYS = 30
CALIBRATION_MIN_RACES = 100  # fewer races: too noisy to judge, the check passes and says so
CALIBRATION_MAX_R2_LOSS = 0.02  # the model may not be worse than "every runner alike" by more than this
SUM_TOLERANCE = 1e-6


# --- configs --------------------------------------------------------------------------------------


class ModelConfig(dg.Config):
    start: str | None = Field(default=None, description="first race date (YYYY-MM-DD); unset: the first")
    end: str | None = Field(default=None, description="last race date, inclusive; unset: latest with results")
    kind: Literal["lgbm", "condlogit"] = "lgbm"
    name: str | None = Field(default=None, description="model name; unset: win_<kind>")
    features: list[str] | None = Field(default=None, description="f_* columns; unset: all")
    cutoff: Literal["mart", "morning"] = "mart"
    n_folds: int = Field(default=5, description="GroupKFold by race inside training")
    seed: int = 0
    promote: bool | None = Field(
        default=None, description="make it production; unset: only when its name has no production version"
    )


class EvaluationConfig(dg.Config):
    model: str | None = Field(default=None, description="NAME@VERSION; unset: the last `model` registered")
    start: str | None = Field(default=None, description="unset: the model's training window")
    end: str | None = None
    min_train_days: int = 28
    test_days: int = 7
    min_edge: float = 0.05
    n_boot: int = 1000
    truth_dir: str | None = Field(default=None, description="synthetic truth folder (DIR/truth)")


class PredictionsConfig(dg.Config):
    model: str | None = Field(default=None, description="NAME@VERSION or NAME; unset: the production model")
    only_moved_races: bool = Field(
        default=False, description="re-score only races whose market or field changed since scored"
    )


# --- small pure helpers ---------------------------------------------------------------------------


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def should_promote(requested: bool | None, has_production: bool) -> bool:
    """An explicit choice wins; unset promotes only the first model of a name (scoring needs one)."""
    return requested if requested is not None else not has_production


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    def cell(value) -> str:
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def image_markdown(path: Path, title: str) -> str:
    """A PNG inlined in markdown (the UI renders data URIs; a file path on the server it cannot)."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f"**{title}**\n\n![{title}](data:image/png;base64,{data})"


def moved_races(current: pd.DataFrame, scored: pd.DataFrame) -> list[str]:
    """Races whose runners or market (odds, snapshot time) differ from what was scored, or that were
    never scored. `current`: race_id, num_pmu, mkt_odds, mkt_served_at (the feature mart now);
    `scored`: race_id, num_pmu, market_odds, market_served_at (modeling.predictions)."""

    def runner_state(df: pd.DataFrame, odds: str, served: str) -> pd.Series:
        odds_values = pd.to_numeric(df[odds], errors="coerce").round(4)
        served_values = pd.to_datetime(df[served], utc=True)
        keys = [
            f"{int(n)}:{o}@{t}" for n, o, t in zip(df["num_pmu"], odds_values, served_values, strict=True)
        ]
        return pd.Series(keys, index=df.index).groupby(df["race_id"]).agg(lambda s: "|".join(sorted(s)))

    now = runner_state(current, "mkt_odds", "mkt_served_at")
    before = (
        runner_state(scored, "market_odds", "market_served_at") if not scored.empty else pd.Series(dtype=str)
    )
    return sorted(race for race, state in now.items() if before.get(race) != state)


def calibration_verdict(
    p, won, race_ids, *, min_races: int = CALIBRATION_MIN_RACES, n_bins: int = 10
) -> dict:
    """Calibration of published probabilities against results, with loose bounds:
    - log loss no worse than a uniform guess by more than CALIBRATION_MAX_R2_LOSS (pseudo-R²), and
    - in every decile of p, |mean p - win rate| within 0.02 + 4 binomial standard errors.
    Too few races: passes, with the reason (a verdict on noise would only flap)."""
    from ml.metrics import calibration_table

    df = pd.DataFrame(
        {
            "p": np.asarray(p, dtype=float),
            "won": np.asarray(won, dtype=float),
            "race_id": np.asarray(race_ids),
        }
    )
    decided = df.groupby("race_id")["won"].transform("sum") > 0
    df = df.loc[decided]
    races = int(df["race_id"].nunique())
    if races < min_races:
        return {
            "passed": True,
            "races": races,
            "reason": f"too little data: {races} decided races in the window (< {min_races}), not judged",
        }
    runners = df.groupby("race_id")["p"].size()
    # a k-way dead heat counts the mean of -ln p over its winners (as ml/metrics.py)
    winners = df.loc[df["won"] > 0].groupby("race_id")["p"]
    nll = winners.agg(lambda s: -np.mean(np.log(np.clip(s, 1e-12, None))))
    per_race = pd.DataFrame({"nll": nll, "runners": runners})
    log_loss = float(per_race["nll"].mean())
    uniform = float(np.log(per_race["runners"]).mean())
    pseudo_r2 = 1.0 - per_race["nll"].sum() / np.log(per_race["runners"]).sum()
    table = calibration_table(df["p"].to_numpy(), df["won"].to_numpy(), n_bins)
    worst = 0.0
    for row in table:
        se = np.sqrt(max(row["mean_p"] * (1 - row["mean_p"]), 1e-9) / row["runners"])
        row["gap"] = row["win_rate"] - row["mean_p"]
        row["allowed"] = 0.02 + 4 * se
        worst = max(worst, abs(row["gap"]) / row["allowed"])
    bins_ok = worst <= 1.0
    r2_ok = pseudo_r2 >= -CALIBRATION_MAX_R2_LOSS
    reasons = []
    if not r2_ok:
        reasons.append(f"pseudo-R² {pseudo_r2:.4f} below -{CALIBRATION_MAX_R2_LOSS}: worse than uniform")
    if not bins_ok:
        reasons.append(f"a decile misses its win rate by {worst:.2f}x the allowed gap")
    return {
        "passed": bool(bins_ok and r2_ok),
        "races": races,
        "log_loss": log_loss,
        "uniform_log_loss": uniform,
        "pseudo_r2": float(pseudo_r2),
        "worst_gap_ratio": float(worst),
        "table": table,
        "reason": "; ".join(reasons) or "within bounds",
    }


# --- warehouse reads (values always as parameters) ------------------------------------------------


def latest_result_day(conn) -> dt.date | None:
    with conn.cursor() as cur:
        cur.execute("select to_regclass('marts.fct_runner_result') is not null")
        if not cur.fetchone()[0]:
            return None
        cur.execute("select max(race_date) from marts.fct_runner_result where is_winner")
        return cur.fetchone()[0]


def first_feature_day(conn) -> dt.date | None:
    with conn.cursor() as cur:
        cur.execute("select min(race_date) from marts.feat_runner_pre_race")
        return cur.fetchone()[0]


def feature_race_ids(conn, days: list[dt.date]) -> set[str]:
    """Races of the days that have at least one runner to score (the scoring frame's rule)."""
    with conn.cursor() as cur:
        cur.execute(
            """
            select distinct f.race_id
            from marts.feat_runner_pre_race as f
            left join marts.fct_runner_result as r on r.race_id = f.race_id and r.num_pmu = f.num_pmu
            where f.race_date = any(%s) and not coalesce(r.is_non_runner, false)
              and not coalesce(f.is_declared_non_runner, false)
            """,
            (days,),
        )
        return {row[0] for row in cur.fetchall()}


def scored_race_sums(conn, model_id: int, days: list[dt.date]) -> dict[str, float]:
    with conn.cursor() as cur:
        cur.execute(
            "select race_id, sum(probability) from modeling.predictions"
            " where model_id = %s and race_date = any(%s) group by race_id",
            (model_id, days),
        )
        return {race: float(total) for race, total in cur.fetchall()}


def scored_market(conn, model_id: int, day: dt.date) -> pd.DataFrame:
    with conn.cursor() as cur:
        cur.execute(
            "select race_id, num_pmu, market_odds, market_served_at from modeling.predictions"
            " where model_id = %s and race_date = %s",
            (model_id, day),
        )
        return pd.DataFrame(cur.fetchall(), columns=["race_id", "num_pmu", "market_odds", "market_served_at"])


def recent_outcomes(conn, model_name: str, day: dt.date, days: int = CALIBRATION_DAYS) -> pd.DataFrame:
    """Published probabilities of a model name (its latest version per race) for the race days in
    [day - days, day], with the results known now."""
    with conn.cursor() as cur:
        cur.execute(
            """
            with latest as (
                select race_id, max(model_id) as model_id
                from modeling.predictions
                where model_name = %(name)s and race_date between %(first)s and %(day)s
                group by race_id
            )
            select p.race_id, p.probability, r.is_winner
            from modeling.predictions as p
            inner join latest as l on l.race_id = p.race_id and l.model_id = p.model_id
            inner join marts.fct_runner_result as r on r.race_id = p.race_id and r.num_pmu = p.num_pmu
            where not r.is_non_runner
            order by p.race_id, p.num_pmu
            """,
            {"name": model_name, "first": day - dt.timedelta(days=days), "day": day},
        )
        return pd.DataFrame(cur.fetchall(), columns=["race_id", "probability", "is_winner"])


# --- assets ---------------------------------------------------------------------------------------


@dg.asset(
    key=MODEL_KEY,
    deps=[FEATURES_KEY, RESULTS_KEY],
    group_name=GROUP,
    kinds={"python", "lightgbm"},
    description="A win model trained on the feature mart (config window), registered in modeling.models "
    "with its artifacts under PMU_HOME/models/<name>/<version>/.",
)
def model(context: dg.AssetExecutionContext, config: ModelConfig, postgres: PostgresResource):
    from ml import plots, registry
    from ml.dataset import load_dataset
    from ml.models import WinModel

    url = postgres.get_url()
    with postgres.connection() as conn:
        end = _date(config.end) or latest_result_day(conn)
        start = _date(config.start) or (first_feature_day(conn) if end else None)
    if end is None or start is None:
        raise dg.Failure("no race with a result in marts.fct_runner_result: build the feature marts first")
    name = config.name or f"win_{config.kind}"
    frame = load_dataset(url, start, end, cutoff=config.cutoff)
    fitted = WinModel(
        name=name, kind=config.kind, features=config.features, n_folds=config.n_folds, seed=config.seed
    ).fit(frame)
    record = registry.register(url, fitted, metrics={"training": fitted.training, "cutoff": config.cutoff})
    has_production = any(r.status == "production" for r in registry.list_models(url, name))
    if should_promote(config.promote, has_production):
        record = registry.promote(url, record.label)
    context.log.info(f"registered {record.label} ({record.status}) on {fitted.training}")

    importance = fitted.feature_importance()
    top = sorted(importance.items(), key=lambda kv: -kv[1])[:20]
    png = plots.feature_importance(importance, Path(record.artifact_path) / "feature_importance.png")
    return dg.MaterializeResult(
        metadata={
            "model": record.label,
            "model_id": record.id,
            "version": record.version,
            "kind": record.kind,
            "status": record.status,
            "train_start": str(record.train_start),
            "train_end": str(record.train_end),
            "cutoff": config.cutoff,
            "races": fitted.training["races"],
            "runners": fitted.training["runners"],
            "oof_pseudo_r2_model": float(fitted.training["oof_pseudo_r2_model"]),
            "temperature": float(fitted.temperature),
            "combiner_alpha_model": float(fitted.combiner[0]),
            "combiner_beta_market": float(fitted.combiner[1]),
            "feature_count": len(fitted.features),
            "feature_hash": record.feature_hash,
            "features": dg.MetadataValue.json(fitted.features),
            "feature_importance": dg.MetadataValue.md(
                markdown_table(
                    [{"feature": f, "importance": float(v)} for f, v in top], ["feature", "importance"]
                )
                + "\n\n"
                + image_markdown(png, "feature importance")
            ),
            "artifacts": dg.MetadataValue.path(record.artifact_path),
        }
    )


@dg.asset(
    key=EVALUATION_KEY,
    output_required=False,  # too few race dates for one walk-forward step: nothing to evaluate yet
    deps=[MODEL_KEY, FEATURES_KEY, RESULTS_KEY],
    group_name=GROUP,
    kinds={"python"},
    description="Walk-forward evaluation of the model's recipe (train on the past, test the next days): "
    "metrics.json, predictions.csv and plots under PMU_HOME/evaluations/, stored on its "
    "registry row.",
)
def evaluation(context: dg.AssetExecutionContext, config: EvaluationConfig, postgres: PostgresResource):
    from ml import registry
    from ml.dataset import load_dataset
    from ml.evaluate import one_line, run_evaluation
    from ml.models import WinModel
    from ml.truth import attach_truth, load_truth
    from pmu_core.settings import load_settings

    url = postgres.get_url()
    ref = config.model
    if ref is None:
        event = context.instance.get_latest_materialization_event(MODEL_KEY)
        if event is None or event.asset_materialization is None:
            raise dg.Failure("no model to evaluate: materialise modeling/model first, or set config `model`")
        ref = event.asset_materialization.metadata["model"].value
    record = registry.get_model(url, ref)
    start = _date(config.start) or record.train_start
    end = _date(config.end) or record.train_end
    cutoff = record.metrics.get("cutoff", "mart")
    frame = load_dataset(url, start, end, cutoff=cutoff)
    if config.truth_dir:
        frame = attach_truth(frame, load_truth(Path(config.truth_dir), start, end))
    dates = frame["race_date"].nunique() if not frame.empty else 0
    if dates <= config.min_train_days:
        context.log.warning(
            f"{record.label}: {dates} race dates in {start}..{end}, a walk-forward needs "
            f"more than min_train_days={config.min_train_days}: not evaluated"
        )
        return
    seed = (record.params or {}).get("seed", 0)
    out = (
        load_settings().home
        / "evaluations"
        / record.name
        / f"{record.version}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
    )
    result = run_evaluation(
        frame,
        out,
        lambda: WinModel(name=record.name, kind=record.kind, features=list(record.features), seed=seed),
        min_train_days=config.min_train_days,
        test_days=config.test_days,
        min_edge=config.min_edge,
        n_boot=config.n_boot,
        log=context.log.info,
    )
    result["cutoff"] = cutoff
    registry.set_metrics(url, record.id, record.metrics | {"evaluation": result})
    context.log.info(one_line(result))

    delta = result["delta_r2_combined_vs_market"]
    bets = result["value_bets"]
    summary_rows = [
        {
            "probabilities": label,
            **{k: result[label][k] for k in ("log_loss", "pseudo_r2", "brier", "top1_hit_rate")},
        }
        for label in ("model", "market", "combined", "closing_market")
        if label in result
    ]
    metadata = {
        "model": record.label,
        "held_out_races": result["races"],
        "folds": len(result["folds"]),
        "first_test_day": result["dates"]["first"],
        "last_test_day": result["dates"]["last"],
        "pseudo_r2_model": float(result["model"]["pseudo_r2"]),
        "pseudo_r2_market": float(result["market"]["pseudo_r2"]),
        "pseudo_r2_combined": float(result["combined"]["pseudo_r2"]),
        "delta_r2_combined_vs_market": float(delta["value"]),
        "delta_r2_ci": f"[{delta['ci_low']:+.4f}, {delta['ci_high']:+.4f}]",
        "value_bets": int(bets["bets"]),
        "value_bet_roi": None if bets.get("roi") is None else float(bets["roi"]),
        "summary": dg.MetadataValue.md(
            markdown_table(summary_rows, ["probabilities", "log_loss", "pseudo_r2", "brier", "top1_hit_rate"])
        ),
        "calibration": dg.MetadataValue.md(
            image_markdown(Path(result["plots"]["calibration"]), "calibration")
        ),
        "cumulative_roi": dg.MetadataValue.md(
            image_markdown(Path(result["plots"]["cumulative_roi"]), "cumulative ROI of value bets")
        ),
        "feature_importance": dg.MetadataValue.md(
            image_markdown(Path(result["plots"]["feature_importance"]), "feature importance")
        ),
        "output": dg.MetadataValue.path(str(out)),
    }
    if result.get("attainable_gain") is not None:
        metadata["attainable_gain"] = float(result["attainable_gain"])
    yield dg.MaterializeResult(metadata=metadata)


PREDICTION_CHECKS = [
    ("probabilities_sum_to_one", "each scored race's probabilities sum to 1", dg.AssetCheckSeverity.ERROR),
    (
        "every_race_scored",
        "no race of the day with a runner to score is left without predictions",
        dg.AssetCheckSeverity.ERROR,
    ),
    (
        "calibrated_last_30_days",
        "published probabilities of the last 30 days agree with the results "
        "(loose bounds; passes with a note below 100 decided races)",
        dg.AssetCheckSeverity.WARN,
    ),
]


def _score_moved(url: str, day: dt.date, model_ref: str | None, log) -> dict:
    """Re-score only the races of `day` whose market or field changed since the model scored them."""
    from ml import registry
    from ml.dataset import load_scoring_frame
    from ml.scoring import prediction_rows, write_predictions

    registry.ensure_tables(url)
    record, fitted = registry.load_model(url, model_ref)
    frame = load_scoring_frame(url, day)
    if frame.empty:
        return {"model": record.label, "model_id": record.id, "races": 0, "runners": 0, "value_bets": 0}
    with db.connection(url) as conn:
        scored = scored_market(conn, record.id, day)
    moved = moved_races(frame, scored)
    log(f"{day}: {len(moved)} of {frame['race_id'].nunique()} races moved since scored with {record.label}")
    if not moved:
        return {"model": record.label, "model_id": record.id, "races": 0, "runners": 0, "value_bets": 0}
    rows = prediction_rows(fitted, frame.loc[frame["race_id"].isin(moved)].reset_index(drop=True))
    written = write_predictions(url, record, rows)
    return {
        "model": record.label,
        "model_id": record.id,
        "races": len(moved),
        "runners": written,
        "value_bets": int((rows["edge"] > 0.05).sum()),
    }


with warnings.catch_warnings():  # backfill_policy on @asset is "beta": known, and what we want
    warnings.simplefilter("ignore", dg.BetaWarning)

    @dg.asset(
        key=PREDICTIONS_KEY,
        deps=[FEATURES_KEY, RESULTS_KEY, MODEL_KEY],
        partitions_def=daily_partitions,
        backfill_policy=single_run_backfill,
        group_name=GROUP,
        kinds={"python", "postgres"},
        description="Win probabilities of the day's declared runners by the production model "
        "(modeling.predictions, idempotent upsert per model, race and runner).",
        check_specs=[
            dg.AssetCheckSpec(name, asset=PREDICTIONS_KEY, description=text)
            for name, text, _ in PREDICTION_CHECKS
        ],
    )
    def predictions(context: dg.AssetExecutionContext, config: PredictionsConfig, postgres: PostgresResource):
        from ml import registry
        from ml.scoring import score_day

        url = postgres.get_url()
        days = context_days(context)
        try:
            record = registry.get_model(url, config.model)
        except LookupError as exc:
            # Nothing to score with. The warehouse runs on (the dbt marts downstream of this key would
            # be skipped by a failed step); every_race_scored fails and says why.
            reason = f"{exc}: materialise modeling/model (promote) or `pmu train --promote`"
            context.log.warning(reason)
            with postgres.connection() as conn:
                yield dg.MaterializeResult(
                    metadata={
                        "model": "none",
                        "days": len(days),
                        "races_scored": 0,
                        "runners_scored": 0,
                        "note": reason,
                    }
                )
                yield from _prediction_checks(conn, None, days, reason)
            return
        summaries = []
        for day in days:
            if config.only_moved_races:
                summaries.append(_score_moved(url, day, config.model, context.log.info))
            else:
                summaries.append(score_day(url, day, model_ref=config.model))
        context.log.info(f"scored {days[0]}..{days[-1]}: {summaries}")
        with postgres.connection() as conn:
            yield dg.MaterializeResult(
                metadata={
                    "model": record.label,
                    "model_id": record.id,
                    "days": len(days),
                    "races_scored": sum(s["races"] for s in summaries),
                    "runners_scored": sum(s["runners"] for s in summaries),
                    "value_bets": sum(s.get("value_bets", 0) for s in summaries),
                    "only_moved_races": config.only_moved_races,
                    "dagster/row_count": _count_rows(conn, record.id, days),
                }
            )
            yield from _prediction_checks(conn, record, days)


def _count_rows(conn, model_id: int, days: list[dt.date]) -> int:
    with conn.cursor() as cur:
        cur.execute(
            "select count(*) from modeling.predictions where model_id = %s and race_date = any(%s)",
            (model_id, days),
        )
        return int(cur.fetchone()[0])


def _prediction_checks(conn, record, days: list[dt.date], no_model: str | None = None):
    """The three checks of the scored days; `record` None: no model to score with (`no_model` says why)."""
    severities = {name: severity for name, _, severity in PREDICTION_CHECKS}
    sums = scored_race_sums(conn, record.id, days) if record else {}
    off = {race: total for race, total in sums.items() if abs(total - 1.0) > SUM_TOLERANCE}
    yield dg.AssetCheckResult(
        check_name="probabilities_sum_to_one",
        passed=not off,
        severity=severities["probabilities_sum_to_one"],
        metadata={
            "races": len(sums),
            "races_off": len(off),
            "worst": dg.MetadataValue.json(dict(sorted(off.items())[:20])),
        },
    )

    expected = feature_race_ids(conn, days)
    missing = sorted(expected - set(sums))
    yield dg.AssetCheckResult(
        check_name="every_race_scored",
        passed=not missing,
        severity=severities["every_race_scored"],
        metadata={
            "races_to_score": len(expected),
            "races_scored": len(expected & set(sums)),
            "unscored_races": dg.MetadataValue.json(missing[:50]),
            **({"reason": no_model} if no_model else {}),
        },
    )
    if record is None:
        yield dg.AssetCheckResult(
            check_name="calibrated_last_30_days",
            passed=True,
            severity=severities["calibrated_last_30_days"],
            metadata={"verdict": f"not judged: {no_model}"},
        )
        return

    outcomes = recent_outcomes(conn, record.name, max(days))
    verdict = calibration_verdict(
        outcomes["probability"], outcomes["is_winner"].astype(float), outcomes["race_id"]
    )
    metadata = {
        "model_name": record.name,
        "window_days": CALIBRATION_DAYS,
        "decided_races": verdict["races"],
        "verdict": verdict["reason"],
    }
    if "table" in verdict:
        metadata |= {
            "log_loss": verdict["log_loss"],
            "uniform_log_loss": verdict["uniform_log_loss"],
            "pseudo_r2": verdict["pseudo_r2"],
            "worst_gap_ratio": verdict["worst_gap_ratio"],
            "deciles": dg.MetadataValue.md(
                markdown_table(
                    verdict["table"], ["p_low", "p_high", "runners", "mean_p", "win_rate", "allowed"]
                )
            ),
        }
    yield dg.AssetCheckResult(
        check_name="calibrated_last_30_days",
        passed=verdict["passed"],
        severity=severities["calibrated_last_30_days"],
        metadata=metadata,
    )


ml_assets = [model, evaluation, predictions]
