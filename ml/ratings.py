"""Point-in-time ratings of horses, jockeys/drivers and trainers from past finishing orders.

A runner's strength is r_horse + r_jockey + r_trainer; after each race day the ratings move along the
gradient of the Plackett–Luce likelihood of that day's first three places (a multi-runner Elo). The
features of a day use only the ratings as they stood before that day: no result of the day itself
(or later) reaches them. The finishing orders come from fct_runner_result, the keys from the
feature mart, both for earlier race dates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.groups import race_starts, race_sum

RATING_FEATURES = (
    "f_rating_horse",
    "f_rating_jockey",
    "f_rating_trainer",
    "f_rating_total",
    "f_rating_horse_runs",
)
PLACES_USED = 3


@dataclass(frozen=True)
class RatingConfig:
    lr_horse: float = 0.25
    lr_jockey: float = 0.03
    lr_trainer: float = 0.03


def plackett_luce_gradient(
    strength: np.ndarray, place: np.ndarray, starts: np.ndarray, places_used: int = PLACES_USED
) -> np.ndarray:
    """d log L / d strength for the first `places_used` places of each race (place: 1, 2, ... or NaN
    for unplaced). Tied runners at a place share it (each counts 1/k)."""
    n = len(strength)
    sizes = np.diff(np.r_[starts, n])
    grad = np.zeros(n)
    for k in range(1, places_used + 1):
        remaining = ~(place < k)  # NaN (unplaced) stays in every stage
        chosen = (place == k).astype(float)
        chosen_total = race_sum(chosen, starts)
        if not chosen_total.any():
            break
        s = np.where(remaining, strength, -np.inf)
        peak = np.repeat(np.maximum.reduceat(s, starts), sizes)
        e = np.where(remaining, np.exp(s - np.where(np.isfinite(peak), peak, 0.0)), 0.0)
        total = np.repeat(race_sum(e, starts), sizes)
        p = np.divide(e, total, out=np.zeros(n), where=total > 0)
        share = np.divide(
            chosen, np.repeat(chosen_total, sizes), out=np.zeros(n), where=np.repeat(chosen_total, sizes) > 0
        )
        grad += share - p * np.repeat(chosen_total > 0, sizes)
    return grad


def add_ratings(runners: pd.DataFrame, config: RatingConfig | None = None) -> pd.DataFrame:
    """runners: race_id, race_date, num_pmu, horse_key, jockey_key, trainer_key, finish_place (NaN
    unplaced or unknown), has_result (bool). Returns the frame with RATING_FEATURES, each day's
    values computed from earlier days only."""
    config = config or RatingConfig()
    df = runners.sort_values(["race_date", "race_id", "num_pmu"], kind="stable").reset_index(drop=True)
    # An unknown key maps to a last slot that is reset after every update: it never learns.
    keys = []
    for col in ("horse_key", "jockey_key", "trainer_key"):
        values = df[col] if col in df.columns else pd.Series(pd.NA, index=df.index)
        code, uniques = pd.factorize(values.astype("string"))
        keys.append((np.where(code < 0, len(uniques), code), len(uniques)))
    (h, n_h), (j, n_j), (t, n_t) = keys
    r_h, r_j, r_t = np.zeros(n_h + 1), np.zeros(n_j + 1), np.zeros(n_t + 1)
    runs = np.zeros(n_h + 1)
    out = np.zeros((len(df), len(RATING_FEATURES)))
    place = pd.to_numeric(df["finish_place"], errors="coerce").to_numpy(dtype=float)
    has_result = (
        df["has_result"].fillna(False).to_numpy(dtype=bool) if "has_result" in df else np.isfinite(place)
    )
    dates = df["race_date"].to_numpy()
    day_bounds = np.r_[np.flatnonzero(np.r_[True, dates[1:] != dates[:-1]]), len(df)]
    race_ids = df["race_id"].to_numpy()
    for a, b in zip(day_bounds[:-1], day_bounds[1:], strict=True):
        hh, jj, tt = h[a:b], j[a:b], t[a:b]
        out[a:b, 0], out[a:b, 1], out[a:b, 2] = r_h[hh], r_j[jj], r_t[tt]
        out[a:b, 3] = r_h[hh] + r_j[jj] + r_t[tt]
        out[a:b, 4] = runs[hh]
        done = has_result[a:b]
        if not done.any():
            continue
        idx = np.flatnonzero(done) + a
        starts = race_starts(race_ids[idx])
        grad = plackett_luce_gradient(out[idx, 3], place[idx], starts)
        np.add.at(r_h, h[idx], config.lr_horse * grad)
        np.add.at(r_j, j[idx], config.lr_jockey * grad)
        np.add.at(r_t, t[idx], config.lr_trainer * grad)
        np.add.at(runs, h[idx], 1.0)
        r_h[-1] = r_j[-1] = r_t[-1] = runs[-1] = 0.0
    for k, name in enumerate(RATING_FEATURES):
        df[name] = out[:, k]
    return df
