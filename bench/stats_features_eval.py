"""Do the point-in-time records of issue 18 (progeny, horse x jockey, jockey x trainer, trainer and
jockey x racecourse, rates shrunk towards the field's rate) add to the win model? An A/B on the
same frame and the same walk-forward folds (train on the past, test the next days): LightGBM on
every f_* column but those (before) and on all of them (after), on the real history.

Reads a warehouse with the feature marts built from ../shared/pmu/history (`--db-url`, e.g. the
one bench/feature_signal.py or bench/ml_eval.py --real builds). Same walk-forward as
bench/ml_eval.py --real: the last 21 days held out, 7-day steps. Writes
bench/results/stats_features_eval.json.

    python bench/stats_features_eval.py --db-url URL [--n-boot 500]
"""

from __future__ import annotations

import argparse
import time

import _common

from ml.dataset import load_dataset
from ml.evaluate import evaluate_predictions, walk_forward_predict
from ml.frames import feature_columns
from ml.models import WinModel

RECORD_PREFIXES = (
    "f_sire_disc_",
    "f_sire_going_",
    "f_dam_starts",
    "f_dam_win_rate_shrunk",
    "f_dam_place_rate_shrunk",
    "f_dam_sire_disc_",
    "f_horse_jockey_",
    "f_jockey_trainer_",
    "f_trainer_hippodrome_",
    "f_jockey_hippodrome_",
)


def is_record_feature(name: str) -> bool:
    return name.startswith(RECORD_PREFIXES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--held-out-days", type=int, default=21)
    parser.add_argument("--test-days", type=int, default=7)
    parser.add_argument("--n-boot", type=int, default=500)
    args = parser.parse_args(argv)

    import datetime as dt

    frame = load_dataset(args.db_url, dt.date(2000, 1, 1), dt.date(2100, 1, 1))
    every = feature_columns(frame)
    records = [f for f in every if is_record_feature(f)]
    if not records:
        raise SystemExit("no record features in the frame: build feat_runner_pre_race first")
    variants = {"before": [f for f in every if not is_record_feature(f)], "after": every}
    min_train = frame["race_date"].nunique() - args.held_out_days
    figures: dict = {"races": int(frame["race_id"].nunique()), "record_features": records}
    for label, features in variants.items():
        started = time.perf_counter()
        preds, folds, _ = walk_forward_predict(
            frame,
            lambda f=features, name=label: WinModel(name=f"stats_{name}", kind="lgbm", features=list(f)),
            min_train_days=min_train,
            test_days=args.test_days,
        )
        result = evaluate_predictions(preds, n_boot=args.n_boot)
        delta = result["delta_r2_combined_vs_market"]
        figures[label] = {
            "features": len(features),
            "held_out_races": result["races"],
            "model_r2": result["model"]["pseudo_r2"],
            "market_r2": result["market"]["pseudo_r2"],
            "combined_r2": result["combined"]["pseudo_r2"],
            "delta_r2_combined_vs_market": delta,
            "seconds": round(time.perf_counter() - started, 1),
        }
    before, after = figures["before"], figures["after"]
    _common.write_results(
        "stats_features_eval",
        figures,
        f"stats_features_eval: {before['held_out_races']} held-out races; "
        f"model R² {before['model_r2']:.4f} -> "
        f"{after['model_r2']:.4f}, combined {before['combined_r2']:.4f} -> {after['combined_r2']:.4f} "
        f"(market {after['market_r2']:.4f})",
        show_path=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
