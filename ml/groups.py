"""Vectorised operations within races on rows sorted by race (contiguous groups).

A race is a contiguous block of rows; `starts` holds the index of each block's first row, which is
what np.add.reduceat and friends take."""

from __future__ import annotations

import numpy as np


def race_starts(race_ids) -> np.ndarray:
    """Index of the first row of each race. Rows must be grouped by race (sorted)."""
    ids = np.asarray(race_ids)
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    if len(np.unique(ids[starts])) != len(starts):
        raise ValueError("rows are not grouped by race: sort by race_id first")
    return starts


def race_sizes(starts: np.ndarray, n_rows: int) -> np.ndarray:
    return np.diff(np.r_[starts, n_rows])


def per_row(values: np.ndarray, starts: np.ndarray, n_rows: int) -> np.ndarray:
    """Broadcast one value per race to the race's rows."""
    return np.repeat(values, race_sizes(starts, n_rows))


def race_sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.add.reduceat(values, starts) if len(starts) else np.zeros(0)


def log_softmax_by_race(scores: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """log of exp(s_i) / sum_race exp(s_j), stable (the race maximum is subtracted first)."""
    scores = np.asarray(scores, dtype=float)
    n = len(scores)
    peak = per_row(np.maximum.reduceat(scores, starts), starts, n)
    shifted = scores - peak
    log_norm = np.log(np.add.reduceat(np.exp(shifted), starts))
    return shifted - per_row(log_norm, starts, n)


def softmax_by_race(scores: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax_by_race(scores, starts))


def normalise_by_race(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """values / race total (probabilities that sum to 1 per race)."""
    values = np.asarray(values, dtype=float)
    return values / per_row(race_sum(values, starts), starts, len(values))


def win_targets(won: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The observed outcome as a distribution per race: 1 for the winner, 1/k each for a k-way dead
    heat, all zeros for a race without a winner (callers drop those)."""
    won = np.asarray(won, dtype=float)
    totals = per_row(race_sum(won, starts), starts, len(won))
    return np.divide(won, totals, out=np.zeros_like(won), where=totals > 0)


def first_in_race(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per row, whether it holds the race maximum of `values` (ties: all tied rows)."""
    values = np.asarray(values, dtype=float)
    return values >= per_row(np.maximum.reduceat(values, starts), starts, len(values))


def rank_in_race(values: np.ndarray, race_ids) -> np.ndarray:
    """1 = largest value in its race (ties share the best rank: 'min' method)."""
    import pandas as pd

    return (
        pd.Series(values)
        .groupby(np.asarray(race_ids))
        .rank(ascending=False, method="min")
        .to_numpy()
        .astype(int)
    )
