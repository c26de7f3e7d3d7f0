"""Train and evaluate win models on the feature marts (contract 3 in pmu_core/facts.py).

A `Recipe` says how to build a model (kind, name, features, market cut-off, seed, folds); `train`
fits it on a window and registers it, `evaluate` walks it forward over a window and writes
metrics and plots. `pmu train`, `pmu evaluate`, the Dagster `modeling/*` assets and `pmu demo`
all go through these two functions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pmu_core import db
from pmu_core.facts import DEFAULT_MIN_EDGE
from pmu_core.settings import load_settings


@dataclass(frozen=True)
class Recipe:
    kind: str = "lgbm"  # lgbm | condlogit
    name: str | None = None  # default win_<kind>
    features: tuple[str, ...] | None = None  # f_* columns; None: all
    cutoff: str = "mart"  # market at the feature mart's cut-off, or "morning"
    seed: int = 0
    n_folds: int | None = None  # stage-1 folds; None: the calibration's own (ml.models.DEFAULT_FOLDS)
    calibration: str = "ensemble"  # ensemble | cross_fit | holdout (ml.models)

    @property
    def model_name(self) -> str:
        return self.name or f"win_{self.kind}"

    def new_model(self):
        from ml.models import WinModel

        features = list(self.features) if self.features else None
        return WinModel(
            name=self.model_name,
            kind=self.kind,
            features=features,
            n_folds=self.n_folds,
            calibration=self.calibration,
            seed=self.seed,
        )

    @classmethod
    def of(cls, record) -> Recipe:
        """The recipe a registered model was trained with (ml.registry.ModelRecord)."""
        return cls(
            kind=record.kind,
            name=record.name,
            features=tuple(record.features),
            cutoff=record.metrics.get("cutoff", "mart"),
            seed=(record.params or {}).get("seed", 0),
            n_folds=(record.params or {}).get("n_folds", 5),
            # models registered before the calibration was a parameter were cross-fitted
            calibration=(record.params or {}).get("calibration", "cross_fit"),
        )


@dataclass
class Trained:
    record: object  # ml.registry.ModelRecord
    model: object  # ml.models.WinModel


def result_window(db_url: str) -> tuple[dt.date, dt.date] | None:
    """(first day of the feature mart, latest day with a winner): all the history a model can
    learn from, or None when no race has a result yet."""
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "select to_regclass('marts.fct_runner_result') is not null"
            " and to_regclass('marts.feat_runner_pre_race') is not null"
        )
        if not cur.fetchone()[0]:
            return None
        cur.execute("select max(race_date) from marts.fct_runner_result where is_winner")
        end = cur.fetchone()[0]
        cur.execute("select min(race_date) from marts.feat_runner_pre_race")
        start = cur.fetchone()[0]
    return (start, end) if start and end else None


def should_promote(requested: bool | None, has_production: bool) -> bool:
    """An explicit choice wins; unset promotes only the first model of a name (scoring needs one)."""
    return requested if requested is not None else not has_production


def train(
    db_url: str,
    start: dt.date,
    end: dt.date,
    recipe: Recipe,
    *,
    promote: bool | None = False,
    progress: bool = False,
) -> Trained:
    """Fit `recipe` on races dated start..end (inclusive), register the next version of its name
    and promote it when asked (None: only when its name has no production version yet). Raises
    ml.dataset.MissingMartError without the feature marts, ValueError on a bad window.
    `progress`: a bar on stderr over the fits and boosting rounds."""
    from ml import registry
    from ml.dataset import load_dataset
    from ml.finishing_eval import fit_on_frame
    from ml.frames import prepare

    frame = load_dataset(db_url, start, end, cutoff=recipe.cutoff)
    model = recipe.new_model().fit(frame, progress=progress)
    # the order model's discounts for place and exotic prices, from the same window's arrivals
    discounts = fit_on_frame(prepare(frame), "mkt_prob") if "finish_place" in frame else None
    metrics = {"training": model.training, "cutoff": recipe.cutoff}
    if discounts is not None:
        metrics["place_discounts"] = list(discounts)
    record = registry.register(db_url, model, metrics=metrics)
    has_production = any(r.status == "production" for r in registry.list_models(db_url, record.name))
    if should_promote(promote, has_production):
        record = registry.promote(db_url, record.label)
    return Trained(record, model)


def evaluation_dir(name: str, version: int | None = None, now: dt.datetime | None = None) -> Path:
    """PMU_HOME/evaluations/<name>/[<version>-]<UTC time>: one folder per evaluation run."""
    stamp = f"{(now or dt.datetime.now(dt.UTC)):%Y%m%dT%H%M%SZ}"
    return load_settings().home / "evaluations" / name / (f"{version}-{stamp}" if version else stamp)


def official_dividends(db_url: str | None, start: dt.date, end: dt.date):
    """marts.bet_report rows of races dated start..end (inclusive), as a DataFrame; empty when the
    mart is missing (a warehouse without rapports)."""
    import pandas as pd

    columns = ["race_id", "bet_type", "label", "combination", "dividend_per_eur", "is_refunded"]
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('marts.bet_report') is not null")
        if not cur.fetchone()[0]:
            return pd.DataFrame(columns=columns)
        cur.execute(
            "select race_id, bet_type, label, combination, dividend_per_eur::double precision,"
            " is_refunded from marts.bet_report where race_date between %s and %s",
            (start, end),
        )
        return pd.DataFrame(cur.fetchall(), columns=columns)


class TooFewDays(ValueError):
    """The window has too few race dates for one walk-forward step."""


@dataclass
class EvaluationSettings:
    min_train_days: int = 28
    test_days: int = 7
    min_edge: float = DEFAULT_MIN_EDGE
    n_boot: int = 1000
    truth_dir: Path | None = None  # synthetic days: DIR/truth, for the attainable gain


def evaluate(
    db_url: str,
    start: dt.date,
    end: dt.date,
    recipe: Recipe,
    *,
    settings: EvaluationSettings | None = None,
    out: Path | None = None,
    store_on: str | None = None,
    log: Callable[[str], None] | None = None,
    progress: bool = False,
) -> tuple[dict, Path]:
    """Walk-forward evaluation of `recipe` on races dated start..end: metrics.json, predictions.csv
    and plots in `out` (default evaluation_dir); the metrics are stored on the registry row of
    `store_on` (NAME@VERSION) when given. Returns (metrics, folder). Raises TooFewDays when the
    window cannot hold one walk-forward step. `progress`: bars on stderr over the folds (ETA), fits
    and boosting rounds. The plots name the model (version when `store_on`), kind and window."""
    from ml import registry
    from ml.dataset import load_dataset
    from ml.evaluate import run_evaluation
    from ml.truth import attach_truth, load_truth

    settings = settings or EvaluationSettings()
    record = registry.get_model(db_url, store_on) if store_on else None
    frame = load_dataset(db_url, start, end, cutoff=recipe.cutoff)
    dates = frame["race_date"].nunique() if not frame.empty else 0
    if dates <= settings.min_train_days:
        raise TooFewDays(
            f"{dates} race dates in {start}..{end}: a walk-forward needs more than "
            f"min_train_days={settings.min_train_days}"
        )
    if settings.truth_dir:
        frame = attach_truth(frame, load_truth(Path(settings.truth_dir), start, end))
    out = out or evaluation_dir(recipe.model_name, record.version if record else None)
    result = run_evaluation(
        frame,
        out,
        recipe.new_model,
        min_train_days=settings.min_train_days,
        test_days=settings.test_days,
        min_edge=settings.min_edge,
        n_boot=settings.n_boot,
        dividends=official_dividends(db_url, start, end),
        log=log,
        progress=progress,
        title=f"{record.label if record else recipe.model_name} ({recipe.kind}), data {start}..{end}",
    )
    result["cutoff"] = recipe.cutoff
    if record is not None:
        registry.set_metrics(db_url, record.id, record.metrics | {"evaluation": result})
    return result, Path(out)
