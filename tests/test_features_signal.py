"""The maths of the feature signal report (ml/feature_signal.py), on hand-made data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml import feature_signal as signal


def test_decile_win_rates_put_the_winners_in_the_top_decile():
    values = pd.Series([float(v) for v in range(1, 101)] + [np.nan] * 5)
    won = pd.Series([v > 90 for v in range(1, 101)] + [True] * 5)  # null values do not count
    deciles = signal.decile_win_rates(values, won)
    assert [d["rows"] for d in deciles] == [10] * 10
    assert [d["win_rate"] for d in deciles] == [0.0] * 9 + [1.0]
    assert deciles[0]["min_value"] == 1 and deciles[-1]["max_value"] == 100


def test_decile_win_rates_with_few_distinct_values_keep_equal_bins():
    values = pd.Series([0.0] * 50 + [1.0] * 50)
    won = pd.Series([False] * 50 + [True] * 50)
    deciles = signal.decile_win_rates(values, won)
    assert [d["rows"] for d in deciles] == [10] * 10
    assert [d["win_rate"] for d in deciles] == [0.0] * 5 + [1.0] * 5


def test_within_race_auc_compares_winners_with_losers_of_their_own_race():
    race = pd.Series(["A", "A", "A", "B", "B", "B", "C", "C", "D", "D"])
    values = pd.Series([3.0, 1.0, 2.0, 1.0, 2.0, 3.0, 2.0, 2.0, 9.0, np.nan])
    won = pd.Series([True, False, False, True, False, False, True, False, True, False])
    # A: winner highest (2 of 2 pairs), B: winner lowest (0 of 2), C: a tie (0.5 of 1),
    # D: the loser has no value, so D does not count
    assert signal.within_race_auc(race, values, won) == pytest.approx(2.5 / 5)
    assert signal.within_race_auc(race[:3], values[:3], won[:3]) == 1.0
    assert signal.within_race_auc(race[3:6], values[3:6], won[3:6]) == 0.0


def test_within_race_auc_without_pairs_is_none():
    assert signal.within_race_auc(pd.Series(["A"]), pd.Series([1.0]), pd.Series([True])) is None


def test_feature_report_puts_the_strongest_feature_first():
    rng = np.random.default_rng(0)
    rows = []
    for race in range(300):
        winner = rng.integers(0, 8)
        for runner in range(8):
            rows.append(
                {
                    "race_id": race,
                    "is_winner": runner == winner,
                    "f_noise": rng.normal(),
                    "f_signal": (runner == winner) + rng.normal(scale=0.5),
                }
            )
    frame = pd.DataFrame(rows)
    report = signal.feature_report(frame, ["f_noise", "f_signal"])
    assert [r["feature"] for r in report] == ["f_signal", "f_noise"]
    assert report[0]["within_race_auc"] > 0.8
    assert abs(report[1]["within_race_auc"] - 0.5) < 0.06
    assert report[0]["base_win_rate"] == pytest.approx(1 / 8)
    assert report[0]["best_decile_lift"] > 3
