"""Walk-forward evaluation: train on the past, predict the following dates, repeat; then every
figure of the issue on the held-out predictions, with plots beside a metrics.json."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ml import metrics
from ml.frames import COVERAGE_CLASSES, closing_distribution, coverage_class, prepare
from ml.groups import race_starts
from ml.models import WinModel
from ml.splits import walk_forward_splits
from pmu_core.facts import DEFAULT_MIN_EDGE


def walk_forward_predict(
    frame: pd.DataFrame,
    model_factory: Callable[[], WinModel],
    *,
    min_train_days: int,
    test_days: int,
    max_train_days: int | None = None,
    log: Callable[[str], None] | None = None,
    after_fit: Callable[[WinModel, pd.DataFrame], dict] | None = None,
    progress: bool = False,
) -> tuple[pd.DataFrame, list[dict], WinModel]:
    """Held-out predictions for every date after the first `min_train_days`, each from a model
    trained only on earlier dates. Returns (predictions, folds, the last fold's model).
    `after_fit(model, training rows)` runs after each fit and adds what it returns to the fold's
    record (the benchmark times a bare lgb.train there, under the same load). `progress`: a bar on
    stderr over the walk-forward folds (with an ETA) and, below it, each fold's fits and rounds."""
    from ml.finishing_eval import fit_on_frame
    from ml.progress import bar

    df = prepare(frame)
    parts, folds, model = [], [], None
    splits = list(
        walk_forward_splits(
            df["race_date"].to_numpy(),
            min_train_days=min_train_days,
            test_days=test_days,
            max_train_days=max_train_days,
        )
    )
    steps = bar(len(splits), "walk-forward", enabled=progress, unit="fold")
    for fold_index, fold in enumerate(splits):
        steps.set_postfix_str(f"testing {fold.test_start}..{fold.test_end}", refresh=False)
        started, started_cpu = time.perf_counter(), time.process_time()
        train = df.iloc[fold.train_rows]
        model = model_factory().fit(train, progress=progress)
        fit_seconds = time.perf_counter() - started
        fit_cpu_seconds = time.process_time() - started_cpu
        preds = model.predict(df.iloc[fold.test_rows])
        preds["fold"] = fold_index
        parts.append(preds)
        folds.append(
            {
                "train_start": str(fold.train_start),
                "train_end": str(fold.train_end),
                "test_start": str(fold.test_start),
                "test_end": str(fold.test_end),
                "train_races": model.training["races"],
                "test_races": int(preds["race_id"].nunique()),
                "fit_seconds": round(fit_seconds, 2),
                # this process's CPU time: on a shared machine, less at the mercy of the others
                "fit_cpu_seconds": round(fit_cpu_seconds, 2),
                **(after_fit(model, train) if after_fit else {}),
                # place discounts of the order model, fitted on the training window's market and
                # arrivals only (ml.finishing_eval.fit_on_frame)
                "discounts": fit_on_frame(train, "mkt_prob") if "finish_place" in train else None,
            }
        )
        steps.update(1)
        if log:
            log(
                f"fold {fold.test_start}..{fold.test_end}: trained on {model.training['races']} races "
                f"in {fit_seconds:.1f}s"
            )
    steps.close()
    if not parts:
        raise ValueError(f"not enough race dates for a walk-forward split (min_train_days={min_train_days})")
    return pd.concat(parts, ignore_index=True), folds, model


def evaluate_predictions(
    preds: pd.DataFrame,
    *,
    min_edge: float = DEFAULT_MIN_EDGE,
    n_boot: int = 1000,
    seed: int = 0,
    folds: list[dict] | None = None,
    dividends: pd.DataFrame | None = None,
) -> dict:
    """All figures on held-out predictions (columns of WinModel.predict, plus optionally mkt_odds,
    final_odds, p_truth). Comparisons with the market use the races the market priced (some runner
    priced); `all_races` and `coverage` (full, partly, none) hold the figures on every race. With
    the walk-forward `folds` (their fitted discounts) and finish places: the place / top-2 / top-3
    figures of Harville vs the discounted order model; with `dividends` (marts.bet_report rows)
    also the returns of the most probable combinations at the official dividends."""
    preds = preds.sort_values(["race_id", "num_pmu"], kind="stable").reset_index(drop=True)
    coverage = coverage_figures(preds)
    priced = np.isfinite(preds["p_market"].to_numpy(dtype=float))
    race_priced = pd.Series(priced).groupby(preds["race_id"].to_numpy()).transform("all").to_numpy()
    all_races = int(preds["race_id"].nunique())
    df = preds.loc[race_priced].reset_index(drop=True)
    if df.empty:
        raise ValueError("no held-out race has a market price: nothing to compare")
    starts = race_starts(df["race_id"].to_numpy())
    target, won = df["target"].to_numpy(), df["won"].to_numpy()
    out: dict = {
        "races": int(len(starts)),
        "runners": int(len(df)),
        "races_without_market": all_races - len(starts),
        "dates": {"first": str(df["race_date"].min()), "last": str(df["race_date"].max())},
        **coverage,
    }
    for label, col in (("model", "p_model"), ("market", "p_market"), ("combined", "p_combined")):
        out[label] = metrics.summary(df[col].to_numpy(), target, won, starts)
    closing = closing_distribution(df)
    closing_races = (
        pd.Series(np.isfinite(closing)).groupby(df["race_id"].to_numpy()).transform("all").to_numpy()
    )
    if closing_races.any():
        sub = df.loc[closing_races].reset_index(drop=True)
        sub_starts = race_starts(sub["race_id"].to_numpy())
        out["closing_market"] = metrics.summary(
            closing[closing_races], sub["target"].to_numpy(), sub["won"].to_numpy(), sub_starts
        )
        out["closing_market"]["races"] = int(len(sub_starts))
        out["combined_on_closing_races"] = metrics.summary(
            sub["p_combined"].to_numpy(), sub["target"].to_numpy(), sub["won"].to_numpy(), sub_starts
        )
    out["delta_r2_combined_vs_market"] = metrics.delta_r2_with_ci(
        df["p_combined"].to_numpy(), df["p_market"].to_numpy(), target, starts, n_boot=n_boot, seed=seed
    )
    out["delta_r2_model_vs_market"] = metrics.delta_r2_with_ci(
        df["p_model"].to_numpy(), df["p_market"].to_numpy(), target, starts, n_boot=n_boot, seed=seed
    )
    out["calibration_combined"] = metrics.calibration_table(df["p_combined"].to_numpy(), won)
    out["calibrated_within_2se"] = metrics.calibrated_within(out["calibration_combined"])
    odds_now = metrics.bet_odds(
        df.get("mkt_odds", pd.Series(np.nan, index=df.index)).to_numpy(dtype=float), df["p_market"].to_numpy()
    )
    final = df.get("final_odds", pd.Series(np.nan, index=df.index)).to_numpy(dtype=float)
    out["value_bets"] = metrics.value_bets(
        df["p_combined"].to_numpy(),
        target,
        starts,
        odds_now,
        final,
        min_edge=min_edge,
        n_boot=n_boot,
        seed=seed,
    )
    if folds and "finish_place" in df.columns and "fold" in df.columns:
        out["finishing"] = evaluate_finishing(df, folds, dividends, n_boot=n_boot, seed=seed)
    if "p_truth" in df.columns and np.isfinite(df["p_truth"].to_numpy(dtype=float)).all():
        p_truth = df["p_truth"].to_numpy(dtype=float)
        out["truth"] = metrics.summary(p_truth, target, won, starts)
        out["attainable_gain"] = metrics.attainable_gain(
            df["p_combined"].to_numpy(), df["p_market"].to_numpy(), p_truth, target, starts
        )
        out["attainable_gain_model_only"] = metrics.attainable_gain(
            df["p_model"].to_numpy(), df["p_market"].to_numpy(), p_truth, target, starts
        )
    return out


def coverage_figures(preds: pd.DataFrame) -> dict:
    """`all_races`: model and combined on every held-out race, with the calibration by decile;
    `coverage`: the same per market-coverage class (and the market where it priced some runner)."""
    priced = preds["mkt_priced"] if "mkt_priced" in preds else np.isfinite(preds["p_market"].astype(float))
    classes = coverage_class(preds["race_id"].to_numpy(), priced.to_numpy(dtype=bool))

    def figures(mask: np.ndarray, with_market: bool) -> dict:
        part = preds.loc[mask].reset_index(drop=True)
        starts = race_starts(part["race_id"].to_numpy())
        target, won = part["target"].to_numpy(), part["won"].to_numpy()
        out = {"races": int(len(starts)), "runners": int(len(part))}
        columns = (("model", "p_model"), ("combined", "p_combined"))
        columns += (("market", "p_market"),) if with_market else ()
        for label, col in columns:
            out[label] = metrics.summary(part[col].to_numpy(), target, won, starts)
        return out

    everything = figures(np.ones(len(preds), dtype=bool), with_market=False)
    everything["calibration_combined"] = metrics.calibration_table(
        preds["p_combined"].to_numpy(), preds["won"].to_numpy()
    )
    everything["calibrated_within_2se"] = metrics.calibrated_within(everything["calibration_combined"])
    return {
        "all_races": everything,
        "coverage": {
            name: figures(classes == name, with_market=name != "none")
            if (classes == name).any()
            else {"races": 0}
            for name in COVERAGE_CLASSES
        },
    }


def evaluate_finishing(
    df: pd.DataFrame, folds: list[dict], dividends: pd.DataFrame | None, *, n_boot: int, seed: int
) -> dict:
    """Order-model figures per source of win probabilities, each race with its fold's discounts."""
    from ml import finishing_eval

    fold_of_race = df.groupby("race_id", sort=False)["fold"].first()
    lambdas = {race: folds[int(k)].get("discounts") for race, k in fold_of_race.items()}
    sources = [("combined", "p_combined"), ("market", "p_market")]
    if "p_truth" in df.columns and np.isfinite(df["p_truth"].to_numpy(dtype=float)).all():
        sources.append(("truth", "p_truth"))
    out: dict = {"discounts_by_fold": [f.get("discounts") for f in folds]}
    for name, col in sources:
        out[name] = finishing_eval.compare_order_models(df, col, lambdas, n_boot=n_boot, seed=seed)
    if dividends is not None and not dividends.empty:
        races = set(df["race_id"])
        sub = dividends.loc[dividends["race_id"].isin(races)]
        out["races_with_dividends"] = int(sub["race_id"].nunique())
        for kind in ("discounted", "harville"):
            by_race = lambdas if kind == "discounted" else {r: (1.0,) for r in lambdas}
            out[f"returns_{kind}"] = finishing_eval.returns_at_dividends(
                df, "p_combined", sub, by_race, n_boot=n_boot, seed=seed
            )
    return out


def run_evaluation(
    frame: pd.DataFrame,
    out_dir: Path,
    model_factory: Callable[[], WinModel],
    *,
    min_train_days: int,
    test_days: int,
    max_train_days: int | None = None,
    min_edge: float = DEFAULT_MIN_EDGE,
    n_boot: int = 1000,
    dividends: pd.DataFrame | None = None,
    log: Callable[[str], None] | None = None,
    progress: bool = False,
    title: str | None = None,
) -> dict:
    """Walk-forward predictions, metrics.json, predictions.csv and the PNG plots in out_dir.
    `title`: what the plots name (model, version, window); default the model's name and the
    held-out window."""
    from ml import plots

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    preds, folds, last_model = walk_forward_predict(
        frame,
        model_factory,
        min_train_days=min_train_days,
        test_days=test_days,
        max_train_days=max_train_days,
        log=log,
        progress=progress,
    )
    result = evaluate_predictions(preds, min_edge=min_edge, n_boot=n_boot, folds=folds, dividends=dividends)
    result["folds"] = folds
    result["model"] = result.pop("model") | {
        "name": last_model.name,
        "kind": last_model.kind,
        "features": last_model.features,
    }
    result["seconds"] = round(time.perf_counter() - started, 2)
    window = f"held out {folds[0]['test_start']}..{folds[-1]['test_end']}"
    subtitle = f"{title or last_model.name}, {window}"
    result["plots"] = {
        "calibration": str(plots.calibration_curve(preds, out_dir / "calibration.png", subtitle=subtitle)),
        "feature_importance": str(
            plots.feature_importance(
                last_model.feature_importance(), out_dir / "feature_importance.png", subtitle=subtitle
            )
        ),
        "cumulative_roi": str(
            plots.cumulative_roi(preds, out_dir / "cumulative_roi.png", min_edge=min_edge, subtitle=subtitle)
        ),
    }
    preds.to_csv(out_dir / "predictions.csv", index=False)
    (out_dir / "metrics.json").write_text(json.dumps(result, indent=2, default=str))
    return result


def one_line(result: dict) -> str:
    d = result["delta_r2_combined_vs_market"]
    vb = result["value_bets"]
    roi = (
        "n/a"
        if vb.get("roi") is None
        else f"{vb['roi']:+.3f} [{vb['roi_ci_low']:+.3f}, {vb['roi_ci_high']:+.3f}]"
    )
    text = (
        f"{result['races']} held-out races: R² model {result['model']['pseudo_r2']:.4f}, market "
        f"{result['market']['pseudo_r2']:.4f}, combined {result['combined']['pseudo_r2']:.4f}; "
        f"ΔR² combined-market {d['value']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]; "
        f"value bets {vb['bets']} ROI {roi}"
    )
    if result.get("attainable_gain") is not None:
        text += f"; attainable gain {result['attainable_gain']:.3f}"
    place = (result.get("finishing") or {}).get("combined", {})
    delta = place.get("delta_place_log_loss_harville_minus_discounted")
    if delta:
        text += (
            f"; place log loss {place['discounted']['place_log_loss']:.4f} discounted vs "
            f"{place['harville']['place_log_loss']:.4f} Harville "
            f"(Δ {delta['value']:+.4f} [{delta['ci_low']:+.4f}, {delta['ci_high']:+.4f}])"
        )
    return text
