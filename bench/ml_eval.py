"""ML benchmark: calibrated win probabilities against the market, on synthetic and on real days.

Synthetic (default): ≥ 2 years of synthetic days (`synth.generate`) landed as a live system sees
them (each day's morning snapshot, then its final one, over HTTP from the replay server), the core
and feature marts built by dbt, then a walk-forward evaluation on the last `--held-out-days`
(≥ 3,000 races): the LightGBM model, its market combination, and the conditional-logit baseline
measured in the same run (ratios). Also the training time and the time to score a full day into
modeling.predictions. Writes bench/results/ml.json and prints one line.
Targets: combined ΔR² over the market > 0 with its CI above 0; attainable gain ≥ 0.5; a day scored
in < 5 s.
Both modes add `finishing`: place / top-2 / top-3 log loss of Harville vs the discounted order model
(discounts fitted on each fold's training window) with bootstrap CIs, and where marts.bet_report has
dividends the returns of the most probable combinations vs the market favourites; target: the
discounted model beats Harville on place log loss with its CI above 0.

`--real`: the same evaluation on ../shared/pmu/history (60 real days: morning then final landed in
date order; train on the first weeks, walk forward over the last ones), reporting the model, the
combined model, the morning market (odds served before the cut-off) and the closing market (final
odds). Writes bench/results/ml_real.json. Targets: fundamentals-only pseudo-R² ≥ 0.08; combined
over the same-time market ΔR² > 0 (with its CI, honestly: the sample is small).

The warehouse of each mode is kept in its own database (bench_ml_synth / bench_ml_real) and under
--home, and reused by later runs with the same arguments (--rebuild to start over).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import _common
import lightgbm as lgb

from ml import registry
from ml.dataset import load_dataset
from ml.evaluate import evaluate_predictions, walk_forward_predict
from ml.finishing_eval import fit_on_frame
from ml.frames import market_distribution, prepare
from ml.models import WinModel
from ml.scoring import score_day
from ml.truth import attach_truth, load_truth
from pipeline.build import build as dbt_build
from pipeline.build import build_feature_marts
from pipeline.land import ReplayPass, land_replayed, recorded_days
from pipeline.modeling import official_dividends
from pmu_core.settings import PROJECT_ROOT

# How this benchmark has always landed its days (ml/warehouse.py's land_days): 8 workers, failures
# retried once, quickly.
LAND_CLIENT = replace(_common.REPLAY_CLIENT, max_workers=8, max_attempts=2, backoff_base_seconds=0.05)


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def build(url: str, snapshot_roots: list[Path], days: list[dt.date]) -> dict:
    started = time.perf_counter()
    report = land_replayed([ReplayPass(root) for root in snapshot_roots], days, url, client=LAND_CLIENT)
    landed = {"days": report.days, "bodies_new": report.bodies_new, "failed": len(report.failed)}
    land_seconds = time.perf_counter() - started
    log(f"landed {landed}")
    started = time.perf_counter()
    build_feature_marts(url)
    build_bet_report(url)
    return {
        "land_seconds": round(land_seconds, 1),
        "dbt_seconds": round(time.perf_counter() - started, 1),
        **landed,
    }


def build_bet_report(url: str) -> None:
    """marts.bet_report (the official dividends) and its upstream: the returns of the finishing
    evaluation read it; the feature marts do not need it."""
    dbt_build(url, select=("+bet_report",), command="run")


def compare(result: dict, baseline: dict) -> dict:
    """The figures the issue asks for, and model / baseline ratios where they make sense."""

    def pick(r):
        return {
            "model_r2": r["model"]["pseudo_r2"],
            "market_r2": r["market"]["pseudo_r2"],
            "combined_r2": r["combined"]["pseudo_r2"],
            "delta_r2": r["delta_r2_combined_vs_market"]["value"],
            "attainable_gain": r.get("attainable_gain"),
        }

    a, b = pick(result), pick(baseline)
    ratios = {k: (a[k] / b[k] if isinstance(a[k], float) and b[k] else None) for k in a}
    return {"lgbm": a, "condlogit_baseline": b, "ratio_lgbm_over_baseline": ratios}


def time_bare_train(model: WinModel, train_rows) -> dict:
    """The floor of a fold: one bare lgb.train on the same matrix with the rounds the model chose,
    right after the model's own fit (same load)."""
    if model.kind != "lgbm":
        return {}
    df = prepare(train_rows)
    started, started_cpu = time.perf_counter(), time.process_time()
    matrix = lgb.Dataset(model._lgbm_matrix(df), label=df["won"].to_numpy())
    lgb.train(model.lgbm_params, matrix, num_boost_round=model.n_rounds)
    return {
        "bare_lgb_train_seconds": round(time.perf_counter() - started, 2),
        "bare_lgb_train_cpu_seconds": round(time.process_time() - started_cpu, 2),
        "n_rounds": model.n_rounds,
        "fit_split_seconds": model.training["seconds"],
    }


def evaluate_both(
    frame, *, min_train_days: int, test_days: int, n_boot: int, calibration: str = "ensemble", dividends=None
) -> dict:
    out = {}
    for kind in ("lgbm", "condlogit"):
        started = time.perf_counter()
        preds, folds, model = walk_forward_predict(
            frame,
            lambda k=kind: WinModel(name=f"bench_{k}", kind=k, calibration=calibration),
            min_train_days=min_train_days,
            test_days=test_days,
            log=log,
            after_fit=time_bare_train,
        )
        result = evaluate_predictions(preds, n_boot=n_boot, folds=folds, dividends=dividends)
        result["folds"] = folds
        result["train_seconds_per_fold"] = round(statistics.mean(f["fit_seconds"] for f in folds), 2)
        if kind == "lgbm":
            ratios = [f["fit_seconds"] / f["bare_lgb_train_seconds"] for f in folds]
            result["fold_over_bare_lgb_train"] = round(statistics.median(ratios), 2)
            cpu = [f["fit_cpu_seconds"] / f["bare_lgb_train_cpu_seconds"] for f in folds]
            result["fold_over_bare_lgb_train_cpu"] = round(statistics.median(cpu), 2)
            result["bare_lgb_train_seconds_mean"] = round(
                statistics.mean(f["bare_lgb_train_seconds"] for f in folds), 2
            )
            result["fit_split_seconds_mean"] = {
                step: round(statistics.mean(f["fit_split_seconds"].get(step, 0.0) for f in folds), 2)
                for step in folds[0]["fit_split_seconds"]
            }
        result["seconds"] = round(time.perf_counter() - started, 1)
        result["feature_importance_top10"] = dict(list(model.feature_importance().items())[:10])
        out[kind] = result
        log(
            f"{kind}: R² model {result['model']['pseudo_r2']:.4f} market {result['market']['pseudo_r2']:.4f} "
            f"combined {result['combined']['pseudo_r2']:.4f} on {result['races']} races"
        )
    return out


def time_scoring(url: str, frame, days: list[dt.date]) -> dict:
    """Train on everything before the scored days, register + promote, score each day (read the
    features, predict, upsert): seconds per day."""
    first = min(days)
    started = time.perf_counter()
    model = WinModel(name="bench_scoring", kind="lgbm").fit(frame[frame["race_date"] < first])
    train_seconds = time.perf_counter() - started
    record = registry.register(url, model)
    registry.promote(url, record.label)
    seconds, races = [], []
    for day in days:
        started = time.perf_counter()
        summary = score_day(url, day)
        seconds.append(time.perf_counter() - started)
        races.append(summary["races"])
    return {
        "train_seconds_full_window": round(train_seconds, 2),
        "days_scored": len(days),
        "races_per_day_mean": statistics.mean(races),
        "score_seconds_per_day_mean": round(statistics.mean(seconds), 3),
        "score_seconds_per_day_max": round(max(seconds), 3),
    }


def coverage_summary(result: dict) -> dict:
    """Pseudo-R² on every held-out race and per market-coverage class, with race counts."""

    def r2(block: dict) -> dict:
        return {k: block[k]["pseudo_r2"] for k in ("model", "market", "combined") if k in block}

    return {
        "races": result["all_races"]["races"],
        **r2(result["all_races"]),
        "calibrated_within_2se": result["all_races"]["calibrated_within_2se"],
        "decile_z": [round(row["z"], 2) for row in result["all_races"]["calibration_combined"]],
        "by_coverage": {
            name: {"races": block["races"], **(r2(block) if block["races"] else {})}
            for name, block in result["coverage"].items()
        },
    }


def run_synthetic(args) -> dict:
    from synth import generate

    home = args.home / "synth"
    start = dt.date(2022, 1, 3)
    end = start + dt.timedelta(days=args.days - 1)
    root = home / f"days_{start}_{end}_m{args.meetings}_s{args.seed}"
    os.environ["PMU_HOME"] = str(home / "pmu_home")
    url, built = _common.kept_database("bench_ml_synth", args.rebuild)
    timings = {}
    if not (root / "_captured_at.json").exists():
        log(f"generating {args.days} synthetic days into {root}")
        started = time.perf_counter()
        summary = generate(start, end, root, seed=args.seed, meetings_per_day=args.meetings)
        timings["generate_seconds"] = round(time.perf_counter() - started, 1)
        log(f"generated {summary['races']} races")
    if not built:
        timings |= build(url, [root / "morning", root], recorded_days(root))
    elif official_dividends(url, start, end).empty:  # a warehouse kept from before the dividends
        build_bet_report(url)
    frame = attach_truth(load_dataset(url, start, end), load_truth(root / "truth"))
    n_days = frame["race_date"].nunique()
    min_train = n_days - args.held_out_days
    evaluations = evaluate_both(
        frame,
        min_train_days=min_train,
        test_days=args.test_days,
        n_boot=args.n_boot,
        calibration=args.calibration,
        dividends=official_dividends(url, start, end),
    )
    scored_days = sorted(frame["race_date"].unique())[-args.score_days :]
    scoring = time_scoring(url, frame, scored_days)
    lg = evaluations["lgbm"]
    figures = {
        "mode": "synthetic",
        "world": {"meetings_per_day": args.meetings, "seed": args.seed, "first_day": str(start)},
        "days": n_days,
        "races": int(frame["race_id"].nunique()),
        "held_out_races": lg["races"],
        "train_days_first_fold": min_train,
        "build": timings,
        "comparison": compare(lg, evaluations["condlogit"]),
        "training_seconds_per_fold_lgbm": lg["train_seconds_per_fold"],
        "training_seconds_per_fold_condlogit": evaluations["condlogit"]["train_seconds_per_fold"],
        "training_time_ratio_lgbm_over_condlogit": round(
            lg["train_seconds_per_fold"] / max(evaluations["condlogit"]["train_seconds_per_fold"], 1e-9), 2
        ),
        "scoring": scoring,
        "all_races": coverage_summary(lg),
        "fold_over_bare_lgb_train": lg.get("fold_over_bare_lgb_train"),
        "fold_over_bare_lgb_train_cpu": lg.get("fold_over_bare_lgb_train_cpu"),
        "fit_split_seconds_mean": lg.get("fit_split_seconds_mean"),
        "bare_lgb_train_seconds_mean": lg.get("bare_lgb_train_seconds_mean"),
        "finishing": finishing_summary(lg),
        "targets": {
            "delta_r2_ci_above_0": lg["delta_r2_combined_vs_market"]["ci_low"] > 0,
            "attainable_gain_at_least_0_5": (lg.get("attainable_gain") or 0) >= 0.5,
            "held_out_races_at_least_3000": lg["races"] >= 3000,
            "score_day_under_5s": scoring["score_seconds_per_day_max"] < 5.0,
            "fold_at_most_1_5x_bare_lgb_train": (lg.get("fold_over_bare_lgb_train") or 99) <= 1.5,
            "fold_at_most_1_5x_bare_lgb_train_cpu": (lg.get("fold_over_bare_lgb_train_cpu") or 99) <= 1.5,
            "every_decile_within_2se_all_races": lg["all_races"]["calibrated_within_2se"],
            "place_log_loss_discounted_beats_harville_ci_above_0": place_target(lg),
        },
        "evaluations": evaluations,
    }
    return figures


def run_real(args) -> dict:
    history = _common.shared_recordings("history", "ml_eval")
    os.environ["PMU_HOME"] = str(args.home / "real" / "pmu_home")
    url, built = _common.kept_database("bench_ml_real", args.rebuild)
    days = recorded_days(history / "final")
    timings = {} if built else build(url, [history / "morning", history / "final"], days)
    frame = load_dataset(url, days[0], days[-1])
    n_days = frame["race_date"].nunique()
    min_train = n_days - args.real_held_out_days
    evaluations = evaluate_both(
        frame,
        min_train_days=min_train,
        test_days=args.real_test_days,
        n_boot=args.n_boot,
        calibration=args.calibration,
        dividends=official_dividends(url, days[0], days[-1]),
    )
    lg = evaluations["lgbm"]
    return {
        "mode": "real",
        "days": n_days,
        "races": int(frame["race_id"].nunique()),
        "held_out_races": lg["races"],
        "train_days_first_fold": min_train,
        "build": timings,
        "comparison": compare(lg, evaluations["condlogit"]),
        "closing_market": lg.get("closing_market"),
        "combined_on_closing_races": lg.get("combined_on_closing_races"),
        "all_races": coverage_summary(lg),
        "fold_over_bare_lgb_train": lg.get("fold_over_bare_lgb_train"),
        "fold_over_bare_lgb_train_cpu": lg.get("fold_over_bare_lgb_train_cpu"),
        "fit_split_seconds_mean": lg.get("fit_split_seconds_mean"),
        "bare_lgb_train_seconds_mean": lg.get("bare_lgb_train_seconds_mean"),
        "finishing": finishing_summary(lg),
        "discounts_all_days": fit_on_frame(frame.assign(mkt_prob=market_distribution(frame)), "mkt_prob"),
        "targets": {
            "model_r2_at_least_0_08": lg["model"]["pseudo_r2"] >= 0.08,
            "delta_r2_above_0": lg["delta_r2_combined_vs_market"]["value"] > 0,
            "delta_r2_ci_above_0": lg["delta_r2_combined_vs_market"]["ci_low"] > 0,
            "delta_r2_at_least_0_015_ci_above_0": lg["delta_r2_combined_vs_market"]["ci_low"] > 0
            and lg["delta_r2_combined_vs_market"]["value"] >= 0.015,
            "every_decile_within_2se_all_races": lg["all_races"]["calibrated_within_2se"],
            "fold_at_most_1_5x_bare_lgb_train": (lg.get("fold_over_bare_lgb_train") or 99) <= 1.5,
            "fold_at_most_1_5x_bare_lgb_train_cpu": (lg.get("fold_over_bare_lgb_train_cpu") or 99) <= 1.5,
            "place_log_loss_discounted_beats_harville_ci_above_0": place_target(lg),
        },
        "evaluations": evaluations,
    }


def finishing_summary(result: dict) -> dict:
    """The order-model figures of the issue: per source of win probabilities, place / top-2 /
    top-3 log loss of Harville and of the discounted model, their differences with CIs; returns."""
    fin = result.get("finishing") or {}
    out = {"discounts_by_fold": fin.get("discounts_by_fold")}
    for source in ("combined", "market", "truth"):
        if source not in fin:
            continue
        f = fin[source]
        out[source] = {
            "races_place": f["races_place"],
            "races_top2": f["races_top2"],
            "races_top3": f["races_top3"],
            **{
                f"{model}_{metric}": f[model].get(metric)
                for model in ("harville", "discounted")
                for metric in ("place_log_loss", "place_brier", "top2_set_log_loss", "top3_set_log_loss")
            },
            **{k: v for k, v in f.items() if k.startswith("delta_")},
        }
    for kind in ("discounted", "harville"):
        if f"returns_{kind}" in fin:
            out[f"returns_{kind}"] = fin[f"returns_{kind}"]
    out["races_with_dividends"] = fin.get("races_with_dividends", 0)
    return out


def place_target(result: dict) -> bool | None:
    delta = ((result.get("finishing") or {}).get("combined") or {}).get(
        "delta_place_log_loss_harville_minus_discounted"
    )
    return None if delta is None else delta["ci_low"] > 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real", action="store_true", help="evaluate on ../shared/pmu/history instead")
    parser.add_argument("--days", type=int, default=730, help="synthetic days (≥ 2 years)")
    parser.add_argument("--meetings", type=float, default=3.0, help="synthetic meetings per day")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--held-out-days", type=int, default=180, help="synthetic days tested walk-forward")
    parser.add_argument("--test-days", type=int, default=30, help="days per walk-forward step (synthetic)")
    parser.add_argument("--real-held-out-days", type=int, default=21)
    parser.add_argument("--real-test-days", type=int, default=7)
    parser.add_argument("--score-days", type=int, default=5)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--home", type=Path, default=PROJECT_ROOT / ".pmu" / "bench_ml")
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the warehouse")
    parser.add_argument(
        "--calibration",
        choices=("ensemble", "cross_fit", "holdout"),
        default="ensemble",
        help="how the models fit their temperature and combination (results suffixed _holdout)",
    )
    args = parser.parse_args()
    args.home = args.home.resolve()
    figures = run_real(args) if args.real else run_synthetic(args)
    lg = figures["evaluations"]["lgbm"]
    d = lg["delta_r2_combined_vs_market"]
    ratio = figures["comparison"]["ratio_lgbm_over_baseline"]["model_r2"]
    line = (
        f"ml {figures['mode']}: {lg['races']} held-out races, R² model {lg['model']['pseudo_r2']:.4f} "
        f"({ratio or float('nan'):.2f}x the baseline's), "
        f"market {lg['market']['pseudo_r2']:.4f}, combined {lg['combined']['pseudo_r2']:.4f}, "
        f"ΔR² {d['value']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]"
    )
    if figures["mode"] == "synthetic":
        line += (
            f", attainable gain {lg.get('attainable_gain') or float('nan'):.3f}, training "
            f"{figures['training_seconds_per_fold_lgbm']:.1f}s/fold "
            f"({figures['training_time_ratio_lgbm_over_condlogit']:.1f}x baseline), scoring "
            f"{figures['scoring']['score_seconds_per_day_mean']:.2f}s/day"
        )
    elif figures.get("closing_market"):
        line += f", closing market {figures['closing_market']['pseudo_r2']:.4f}"
    place = (figures.get("finishing") or {}).get("combined") or {}
    if place.get("delta_place_log_loss_harville_minus_discounted"):
        d = place["delta_place_log_loss_harville_minus_discounted"]
        line += f", place log loss Harville−discounted {d['value']:+.4f}"
        line += f" [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]"
    every = figures["all_races"]
    line += (
        f"; all {every['races']} races: R² combined {every['combined']:.4f}, calibrated within 2 SE "
        f"{'yes' if every['calibrated_within_2se'] else 'no'}; fold {figures['fold_over_bare_lgb_train']}x "
        f"a bare lgb.train ({figures['fold_over_bare_lgb_train_cpu']}x in CPU time)"
    )
    figures["calibration"] = args.calibration
    name = ("ml_real" if args.real else "ml") + (
        "" if args.calibration == "ensemble" else f"_{args.calibration}"
    )
    _common.write_results(name, figures, line, show_path=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
