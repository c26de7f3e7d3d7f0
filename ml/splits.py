"""Time-ordered splits: walk-forward by date for evaluation; inside a training window, the latest
races held out for calibration, or GroupKFold by day or by race for cross-fitting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import GroupKFold


@dataclass(frozen=True)
class WalkForwardFold:
    train_start: dt.date
    train_end: dt.date  # inclusive
    test_start: dt.date
    test_end: dt.date  # inclusive
    train_rows: np.ndarray
    test_rows: np.ndarray


def walk_forward_splits(
    race_dates, *, min_train_days: int, test_days: int, max_train_days: int | None = None
) -> Iterator[WalkForwardFold]:
    """Folds over the distinct race dates: test on `test_days` consecutive race dates, train on every
    date before them (or the last `max_train_days`), then move on by `test_days`. A test date is
    never on or before a training date; every date after the first `min_train_days` is tested once."""
    dates = np.asarray(race_dates)
    days = np.array(sorted(set(dates.tolist())))
    if min_train_days < 1 or test_days < 1:
        raise ValueError("min_train_days and test_days must be >= 1")
    for first in range(min_train_days, len(days), test_days):
        test_days_here = days[first : first + test_days]
        train_days = days[:first] if max_train_days is None else days[max(0, first - max_train_days) : first]
        yield WalkForwardFold(
            train_start=train_days[0],
            train_end=train_days[-1],
            test_start=test_days_here[0],
            test_end=test_days_here[-1],
            train_rows=np.flatnonzero(np.isin(dates, train_days)),
            test_rows=np.flatnonzero(np.isin(dates, test_days_here)),
        )


def latest_races_split(race_ids, share: float) -> tuple[np.ndarray, np.ndarray]:
    """(earlier rows, latest rows): the last `share` of the races in race-id order, which is date
    order (contract 2: ids start with the date), held out; at least one race on each side."""
    ids = np.asarray(race_ids)
    races = np.unique(ids)
    if len(races) < 2:
        raise ValueError("need at least 2 races to hold the latest ones out")
    n_held = min(max(int(round(share * len(races))), 1), len(races) - 1)
    held = np.isin(ids, races[-n_held:])
    return np.flatnonzero(~held), np.flatnonzero(held)


def day_folds(race_dates, race_ids, n_splits: int = 2) -> list[tuple[np.ndarray, np.ndarray]]:
    """GroupKFold by race date: a day's races are all on one side (runners of a day share its
    going and its late news); by race when the window has fewer days than folds."""
    dates = np.asarray(race_dates)
    if len(np.unique(dates)) < n_splits:
        return race_folds(race_ids, n_splits)
    return list(GroupKFold(n_splits=n_splits).split(np.zeros(len(dates)), groups=dates))


def race_folds(race_ids, n_splits: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """GroupKFold by race: a race's runners are never split between fit and held-out rows."""
    ids = np.asarray(race_ids)
    n_splits = min(n_splits, len(np.unique(ids)))
    return list(GroupKFold(n_splits=n_splits).split(np.zeros(len(ids)), groups=ids))
