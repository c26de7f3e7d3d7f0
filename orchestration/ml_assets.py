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
  they were scored. Every run is a publication (modeling.publications, trigger `morning` from the
  morning schedule, `odds_moved` from the odds sensor's runs, `dagster` otherwise). Checks:
  probabilities sum to 1 per race, no race of the day left unscored, the day's publications cover
  at least 80% of its races with a field, calibration of the last 30 days.
"""

import base64
import datetime as dt
from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field

from orchestration.partitions import context_days, daily_partitions, single_run_backfill
from orchestration.resources import PostgresResource
from pmu_core.facts import DEFAULT_MIN_EDGE
from pmu_core.settings import now as project_clock

GROUP = "modeling"
MODEL_KEY = dg.AssetKey(["modeling", "model"])
EVALUATION_KEY = dg.AssetKey(["modeling", "evaluation"])
PREDICTIONS_KEY = dg.AssetKey(["modeling", "predictions"])
FEATURES_KEY = dg.AssetKey(["marts", "feat_runner_pre_race"])
RESULTS_KEY = dg.AssetKey(["marts", "fct_runner_result"])
BETS_KEY = dg.AssetKey(["modeling", "bets"])
BET_REPORT_KEY = dg.AssetKey(["marts", "bet_report"])
PARTICIPANTS_KEY = dg.AssetKey(["marts", "race_participant"])

CALIBRATION_DAYS = 30
SUM_TOLERANCE = 1e-6
# The brief's service level: signals for at least this share of the day's races.
PUBLICATION_COVERAGE = 0.8
MORNING_SCHEDULE = "morning_schedule"


# --- configs --------------------------------------------------------------------------------------


class ModelConfig(dg.Config):
    start: str | None = Field(default=None, description="first race date (YYYY-MM-DD); unset: the first")
    end: str | None = Field(default=None, description="last race date, inclusive; unset: latest with results")
    kind: Literal["lgbm", "condlogit"] = "lgbm"
    name: str | None = Field(default=None, description="model name; unset: win_<kind>")
    features: list[str] | None = Field(default=None, description="f_* columns; unset: all")
    cutoff: Literal["mart", "morning"] = "mart"
    n_folds: int | None = Field(
        default=None, description="stage-1 folds in training; unset: the calibration's (2 for the ensemble)"
    )
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
    min_edge: float = DEFAULT_MIN_EDGE
    n_boot: int = 1000
    truth_dir: str | None = Field(default=None, description="synthetic truth folder (DIR/truth)")


class PredictionsConfig(dg.Config):
    model: str | None = Field(default=None, description="NAME@VERSION or NAME; unset: the production model")
    only_moved_races: bool = Field(
        default=False, description="re-score only races whose market or field changed since scored"
    )


# --- metadata helpers ----------------------------------------------------------------------------


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


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
    from ml import plots
    from pipeline.modeling import Recipe, result_window, train

    url = postgres.get_url()
    window = result_window(url)
    end = _date(config.end) or (window[1] if window else None)
    start = _date(config.start) or (window[0] if window else None)
    if end is None or start is None:
        raise dg.Failure("no race with a result in marts.fct_runner_result: build the feature marts first")
    recipe = Recipe(
        kind=config.kind,
        name=config.name,
        features=tuple(config.features) if config.features else None,
        cutoff=config.cutoff,
        seed=config.seed,
        n_folds=config.n_folds,
    )
    trained = train(url, start, end, recipe, promote=config.promote)
    record, fitted = trained.record, trained.model
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
    from ml.evaluate import one_line
    from pipeline.modeling import EvaluationSettings, Recipe, TooFewDays, evaluate

    url = postgres.get_url()
    ref = config.model
    if ref is None:
        event = context.instance.get_latest_materialization_event(MODEL_KEY)
        if event is None or event.asset_materialization is None:
            raise dg.Failure("no model to evaluate: materialise modeling/model first, or set config `model`")
        ref = event.asset_materialization.metadata["model"].value
    record = registry.get_model(url, ref)
    settings = EvaluationSettings(
        min_train_days=config.min_train_days,
        test_days=config.test_days,
        min_edge=config.min_edge,
        n_boot=config.n_boot,
        truth_dir=Path(config.truth_dir) if config.truth_dir else None,
    )
    start = _date(config.start) or record.train_start
    end = _date(config.end) or record.train_end
    try:
        result, out = evaluate(
            url, start, end, Recipe.of(record), settings=settings, store_on=record.label, log=context.log.info
        )
    except TooFewDays as exc:
        context.log.warning(f"{record.label}: {exc}: not evaluated")
        return
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
        "publication_covers_races",
        "the day's publications cover at least 80% of the races that have a field",
        dg.AssetCheckSeverity.ERROR,
    ),
    (
        "calibrated_last_30_days",
        "published probabilities of the last 30 days agree with the results "
        "(loose bounds; passes with a note below 100 decided races)",
        dg.AssetCheckSeverity.WARN,
    ),
]


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
    from ml.scoring import published_rows
    from pipeline.scoring import score

    url = postgres.get_url()
    days = context_days(context)
    try:
        record = registry.get_model(url, config.model)
    except LookupError as exc:
        # Nothing to score with. The warehouse runs on (the dbt marts downstream of this key would
        # be skipped by a failed step); every_race_scored fails and says why.
        reason = f"{exc}: materialise modeling/model (promote) or `pmu train --promote`"
        context.log.warning(reason)
        yield dg.MaterializeResult(
            metadata={
                "model": "none",
                "days": len(days),
                "races_scored": 0,
                "runners_scored": 0,
                "note": reason,
            }
        )
        yield from _prediction_checks(url, None, days, reason)
        return
    totals = score(
        url,
        days,
        model_ref=config.model,
        only_moved=config.only_moved_races,
        trigger=publication_trigger(config.only_moved_races, dict(context.run.tags)),
        scored_at=project_clock(),  # the project's clock: a replayed day publishes at its own time
        log=context.log.info,
    )
    context.log.info(f"scored {days[0]}..{days[-1]}: {totals['per_day']}")
    yield dg.MaterializeResult(
        metadata={
            "model": record.label,
            "model_id": record.id,
            "days": len(days),
            "races_scored": totals["races"],
            "runners_scored": totals["runners"],
            "value_bets": totals["value_bets"],
            "only_moved_races": config.only_moved_races,
            "dagster/row_count": published_rows(url, record.id, days),
        }
    )
    yield from _prediction_checks(url, record, days)


def publication_trigger(only_moved_races: bool, tags: dict[str, str]) -> str:
    """What a publication says asked for it: the odds sensor's re-scores, the morning run, or else."""
    if only_moved_races:
        return "odds_moved"
    if tags.get("dagster/schedule_name") == MORNING_SCHEDULE:
        return "morning"
    return "dagster"


def _prediction_checks(url: str, record, days: list[dt.date], no_model: str | None = None):
    """The three checks of the scored days; `record` None: no model to score with (`no_model` says why)."""
    from ml.dataset import races_to_score
    from ml.metrics import calibration_verdict
    from ml.scoring import published_race_sums, published_races, recent_outcomes

    severities = {name: severity for name, _, severity in PREDICTION_CHECKS}
    sums = published_race_sums(url, record.id, days) if record else {}
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

    expected = races_to_score(url, days)
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
    covered = published_races(url, record.id, days) & expected if record else set()
    coverage = len(covered) / len(expected) if expected else None
    yield dg.AssetCheckResult(
        check_name="publication_covers_races",
        passed=coverage is None or coverage >= PUBLICATION_COVERAGE,  # no race: nothing to cover
        severity=severities["publication_covers_races"],
        metadata={
            "races_with_a_field": len(expected),
            "races_published": len(covered),
            "coverage": coverage if coverage is not None else "no race with a field",
            "target": PUBLICATION_COVERAGE,
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

    outcomes = recent_outcomes(url, record.name, max(days), CALIBRATION_DAYS)
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


@dg.asset(
    key=BETS_KEY,
    deps=[BET_REPORT_KEY, PARTICIPANTS_KEY],
    partitions_def=daily_partitions,
    backfill_policy=single_run_backfill,
    group_name=GROUP,
    kinds={"python", "postgres"},
    description="The bets ledger settled on the official dividends (pipeline.bets.settle_bets): every "
    "open bet whose race has rapports; the others stay open for a later run.",
)
def bets(context: dg.AssetExecutionContext, postgres: PostgresResource):
    from pipeline.bets import BetError, settle_bets

    try:
        counts = settle_bets(postgres.get_url())
    except BetError as exc:  # no warehouse yet: nothing to settle against, say so
        context.log.warning(str(exc))
        return dg.MaterializeResult(metadata={"note": str(exc)})
    context.log.info(f"bets settled: {counts}")
    return dg.MaterializeResult(metadata={k: int(v) for k, v in counts.items()})


ml_assets = [model, evaluation, predictions, bets]
