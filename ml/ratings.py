"""Point-in-time ratings of horses, jockeys/drivers and trainers from past finishing orders.

A runner's strength is r_horse + r_jockey + r_trainer. Each rating is a Gaussian belief (mean,
variance) updated after every race day by one Newton step on the Plackett–Luce likelihood of that
day's finishing orders: the step is the likelihood's gradient divided by (prior precision + Fisher
information), so a newcomer's rating moves fast and a veteran's slowly, and the variance shrinks
with every run. After each run a horse's variance grows by `drift_var_horse` (form and ability move
between runs), so old results weigh less than recent ones.

Every placed finisher counts (a full order holds far more information than the first three). A runner
without a place (disqualified, fell, pulled up) is left out of that race's likelihood: its absence
says nothing reliable about its rank, and counting it as beaten by every finisher pushed strong
horses down at each later stage.

The features of a day use only the ratings as they stood before that day: no result of the day
itself (or later) reaches them. Each run with a result also leaves its residual (the gradient,
observed − expected, at the ratings before its day) and that gradient's information, in the
post-race columns RUN_RESIDUAL and RUN_INFORMATION: ml.preferences reads a horse's past ones.
The finishing orders come from fct_runner_result, the keys from the feature mart, both for
earlier race dates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.groups import per_row, race_starts, race_sum

RATING_FEATURES = (
    "f_rating_horse",
    "f_rating_jockey",
    "f_rating_trainer",
    "f_rating_total",
    "f_rating_horse_sd",
    "f_rating_horse_runs",
)
# post-race, per run: not features (no f_ prefix), only history for later days
RUN_RESIDUAL = "run_pl_residual"
RUN_INFORMATION = "run_pl_information"


@dataclass(frozen=True)
class RatingConfig:
    """Prior variances and per-run drift, in units of the within-race log-strength. Picked from a
    small grid on the synthetic benchmark's days (bench/ml_eval.py): the pseudo-R² moved by ±0.002
    across it, so the choice does not drive the benchmark's figures."""

    prior_var_horse: float = 0.6
    drift_var_horse: float = 0.03
    prior_var_jockey: float = 0.05
    drift_var_jockey: float = 0.002
    prior_var_trainer: float = 0.05
    drift_var_trainer: float = 0.002


def plackett_luce_derivatives(
    strength: np.ndarray, place: np.ndarray, starts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Fisher information (the negative Hessian's diagonal) of the Plackett–Luce
    log-likelihood of each race's finishing order, with respect to each runner's log-strength.

    place: 1, 2, ... per runner, NaN for a runner without a place (left out of its race). Runners
    sharing a place (dead heat) each count 1/k of that stage."""
    strength = np.asarray(strength, dtype=float)
    place = np.asarray(place, dtype=float)
    n = len(strength)
    grad = np.zeros(n)
    fisher = np.zeros(n)
    if not np.isfinite(place).any():
        return grad, fisher
    for k in range(1, int(np.nanmax(place)) + 1):
        remaining = place >= k  # NaN compares False: unplaced runners never take part
        chosen = (place == k).astype(float)
        chosen_total = per_row(race_sum(chosen, starts), starts, n)
        if not chosen_total.any():
            continue
        active = chosen_total > 0
        s = np.where(remaining, strength, -np.inf)
        peak = per_row(np.maximum.reduceat(s, starts), starts, n)
        e = np.where(remaining, np.exp(s - np.where(np.isfinite(peak), peak, 0.0)), 0.0)
        total = per_row(race_sum(e, starts), starts, n)
        p = np.divide(e, total, out=np.zeros(n), where=total > 0) * active
        grad += np.divide(chosen, chosen_total, out=np.zeros(n), where=active) - p
        fisher += p * (1.0 - p)
    return grad, fisher


def gaussian_step(
    mean: np.ndarray, var: np.ndarray, index: np.ndarray, grad: np.ndarray, fisher: np.ndarray, drift: float
) -> None:
    """In place: the beliefs of entities `index` (one row per run, repeats allowed) take one Newton
    step with their summed gradient and information, then widen by `drift`. The last slot is the
    unknown-key slot and is left for the caller to reset."""
    g_total = np.zeros(len(mean))
    info_total = np.zeros(len(mean))
    np.add.at(g_total, index, grad)
    np.add.at(info_total, index, fisher)
    touched = np.zeros(len(mean), dtype=bool)
    touched[index] = True
    precision = 1.0 / var + info_total
    mean += np.where(touched, g_total / precision, 0.0)
    var[:] = np.where(touched, 1.0 / precision + drift, var)


@dataclass
class _Beliefs:
    """Ratings of one kind of entity: per row of the frame, the entity's slot (`index`); per slot,
    the belief's mean and variance. The last slot stands for an unknown key and is reset after
    every update, so it never learns."""

    index: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    prior: float
    drift: float

    @classmethod
    def for_column(cls, df: pd.DataFrame, col: str, prior: float, drift: float) -> _Beliefs:
        values = df[col] if col in df.columns else pd.Series(pd.NA, index=df.index)
        code, uniques = pd.factorize(values.astype("string"))
        slots = len(uniques) + 1
        return cls(np.where(code < 0, slots - 1, code), np.zeros(slots), np.full(slots, prior), prior, drift)

    def update(self, rows: np.ndarray, grad: np.ndarray, fisher: np.ndarray) -> None:
        gaussian_step(self.mean, self.var, self.index[rows], grad, fisher, self.drift)
        self.mean[-1], self.var[-1] = 0.0, self.prior


def add_ratings(runners: pd.DataFrame, config: RatingConfig | None = None) -> pd.DataFrame:
    """runners: race_id, race_date, num_pmu, horse_key, jockey_key, trainer_key, finish_place (NaN
    unplaced or unknown), has_result (bool). Returns the frame with RATING_FEATURES, each day's
    values computed from earlier days only, and each run's RUN_RESIDUAL and RUN_INFORMATION (NaN
    without a result)."""
    config = config or RatingConfig()
    df = runners.sort_values(["race_date", "race_id", "num_pmu"], kind="stable").reset_index(drop=True)
    horse = _Beliefs.for_column(df, "horse_key", config.prior_var_horse, config.drift_var_horse)
    jockey = _Beliefs.for_column(df, "jockey_key", config.prior_var_jockey, config.drift_var_jockey)
    trainer = _Beliefs.for_column(df, "trainer_key", config.prior_var_trainer, config.drift_var_trainer)
    runs = np.zeros(len(horse.mean))
    out = np.zeros((len(df), len(RATING_FEATURES)))
    residual = np.full(len(df), np.nan)
    information = np.full(len(df), np.nan)
    place = pd.to_numeric(df["finish_place"], errors="coerce").to_numpy(dtype=float)
    has_result = (
        df["has_result"].fillna(False).to_numpy(dtype=bool) if "has_result" in df else np.isfinite(place)
    )
    dates = df["race_date"].to_numpy()
    day_bounds = np.r_[np.flatnonzero(np.r_[True, dates[1:] != dates[:-1]]), len(df)]
    race_ids = df["race_id"].to_numpy()
    for a, b in zip(day_bounds[:-1], day_bounds[1:], strict=True):
        for k, beliefs in enumerate((horse, jockey, trainer)):
            out[a:b, k] = beliefs.mean[beliefs.index[a:b]]
        out[a:b, 3] = out[a:b, 0] + out[a:b, 1] + out[a:b, 2]
        out[a:b, 4] = np.sqrt(horse.var[horse.index[a:b]])
        out[a:b, 5] = runs[horse.index[a:b]]
        rows = np.flatnonzero(has_result[a:b]) + a
        if not len(rows):
            continue
        grad, fisher = plackett_luce_derivatives(out[rows, 3], place[rows], race_starts(race_ids[rows]))
        residual[rows], information[rows] = grad, fisher
        for beliefs in (horse, jockey, trainer):
            beliefs.update(rows, grad, fisher)
        np.add.at(runs, horse.index[rows], 1.0)
        runs[-1] = 0.0
    for k, name in enumerate(RATING_FEATURES):
        df[name] = out[:, k]
    df[RUN_RESIDUAL], df[RUN_INFORMATION] = residual, information
    return df
