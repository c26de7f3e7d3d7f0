"""Point-in-time condition preferences: how a horse ran, against its ratings, in conditions like
today's (distance, going, discipline).

The ratings (ml.ratings) give a horse one strength whatever the race, but a stayer loses sprints
and some horses like heavy ground. Every past run with a result left a residual: the Plackett–Luce
gradient of its finishing order at the ratings as they stood before that day (observed − expected,
in log-strength units), with that gradient's information. Over the horse's runs on strictly
earlier dates, weighted by how close each run's conditions were to today's, one Newton step from
a zero prior estimates how much better than its rating the horse runs in today's conditions:

    preference = Σ w·residual / (PRIOR_PRECISION + Σ w·information)

with w a Gaussian kernel of the distance (or the going) difference, or 1 for the same discipline.
The summed weight says how much evidence is behind it. A horse without such runs gets 0 and a
weight of 0 (no evidence, the prior), a race without a going reading NaN for the going."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.ratings import RUN_INFORMATION, RUN_RESIDUAL

PREFERENCE_FEATURES = (
    "f_pref_distance",
    "f_pref_distance_weight",
    "f_pref_going",
    "f_pref_going_weight",
    "f_pref_discipline",
    "f_pref_discipline_weight",
)
DISTANCE_BANDWIDTH_M = 400.0  # a horse's best trip spans several hundred metres
GOING_BANDWIDTH = 0.8  # penetrometre units: about one going class
PRIOR_PRECISION = 4.0  # a preference of sd 0.5 in log-strength before any run

_CONDITIONS = ("f_distance_m", "f_going_penetrometre", "discipline")


def _pairs(runners: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Each described runner (by its row order `_row`) with every run of its horse on an earlier date."""
    left = pd.DataFrame(
        {
            "_row": np.arange(len(runners)),
            "horse_key": runners["horse_key"].astype("string").to_numpy(),
            "race_date": pd.to_datetime(runners["race_date"]).to_numpy(),
            **{c: runners[c].to_numpy() if c in runners else np.nan for c in _CONDITIONS},
        }
    ).dropna(subset=["horse_key"])
    runs = history.loc[history[RUN_INFORMATION].fillna(0.0) > 0]
    right = pd.DataFrame(
        {
            "horse_key": runs["horse_key"].astype("string").to_numpy(),
            "run_date": pd.to_datetime(runs["race_date"]).to_numpy(),
            "residual": runs[RUN_RESIDUAL].to_numpy(dtype=float),
            "information": runs[RUN_INFORMATION].to_numpy(dtype=float),
            **{f"run_{c}": runs[c].to_numpy() if c in runs else np.nan for c in _CONDITIONS},
        }
    )
    right = right.loc[right["horse_key"].isin(left["horse_key"].unique())]
    pairs = left.merge(right, on="horse_key", how="inner")
    return pairs.loc[pairs["run_date"] < pairs["race_date"]]  # never the race's own day


def shrunk_preference(
    rows: np.ndarray, weight: np.ndarray, residual: np.ndarray, information: np.ndarray, n_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per described row: Σ w·residual / (PRIOR_PRECISION + Σ w·information), and Σ w."""
    weight = np.where(np.isfinite(weight), weight, 0.0)
    total_weight = np.bincount(rows, weights=weight, minlength=n_rows)
    gradient = np.bincount(rows, weights=weight * residual, minlength=n_rows)
    info = np.bincount(rows, weights=weight * information, minlength=n_rows)
    return gradient / (PRIOR_PRECISION + info), total_weight


def preference_features(runners: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """runners: race_id, num_pmu, race_date, horse_key and the race's f_distance_m,
    f_going_penetrometre, discipline. history: ml.ratings.add_ratings's output over any dates (only
    the runs before each runner's race date count). Returns race_id, num_pmu, PREFERENCE_FEATURES."""
    n = len(runners)
    pairs = _pairs(runners, history)
    rows = pairs["_row"].to_numpy()
    residual, information = pairs["residual"].to_numpy(), pairs["information"].to_numpy()

    def gaussian(column: str, bandwidth: float) -> np.ndarray:
        today = pd.to_numeric(pairs[column], errors="coerce").to_numpy(dtype=float)
        then = pd.to_numeric(pairs[f"run_{column}"], errors="coerce").to_numpy(dtype=float)
        return np.exp(-0.5 * ((today - then) / bandwidth) ** 2)

    same_discipline = pairs["discipline"].astype("string") == pairs["run_discipline"].astype("string")
    weights = {
        "distance": gaussian("f_distance_m", DISTANCE_BANDWIDTH_M),
        "going": gaussian("f_going_penetrometre", GOING_BANDWIDTH),
        "discipline": same_discipline.fillna(False).to_numpy(dtype=float),
    }
    out = runners[["race_id", "num_pmu"]].reset_index(drop=True).copy()
    for name, weight in weights.items():
        value, total = shrunk_preference(rows, weight, residual, information, n)
        out[f"f_pref_{name}"], out[f"f_pref_{name}_weight"] = value, total
    if "f_going_penetrometre" in runners:
        unmeasured = runners["f_going_penetrometre"].isna().to_numpy()
        out.loc[unmeasured, ["f_pref_going", "f_pref_going_weight"]] = np.nan
    return out[["race_id", "num_pmu", *PREFERENCE_FEATURES]]
