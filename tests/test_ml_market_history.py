"""ml.market_history: past-closing-market features, values worked out by hand and point in time."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from ml.market_history import MARKET_HISTORY_FEATURES, market_history_features

D1, D5, D10, D12 = (dt.date(2025, 1, d) for d in (1, 5, 10, 12))


def history() -> pd.DataFrame:
    """Race A (day 1): h1 2.0 won, h2 2.0. Race B (day 5): h1 4.0, h3 4/3 won (rating 0.5).
    Race C (day 10, the one described): h1 3.0, h2 1.5, no result yet."""
    return pd.DataFrame(
        {
            "race_id": ["A", "A", "B", "B", "C", "C"],
            "num_pmu": [1, 2, 1, 2, 1, 2],
            "race_date": [D1, D1, D5, D5, D10, D10],
            "horse_key": ["h1", "h2", "h1", "h3", "h1", "h2"],
            "final_odds": [2.0, 2.0, 4.0, 4.0 / 3.0, 3.0, 1.5],
            "is_winner": [True, False, False, True, None, None],
            "f_rating_total": [0.0, 0.0, 0.0, 0.5, 0.0, 0.0],
        }
    )


def features_of(race: str, hist: pd.DataFrame) -> pd.DataFrame:
    return market_history_features(hist[hist["race_id"] == race], hist).set_index("num_pmu")


def test_values_worked_out_by_hand():
    got = features_of("C", history())
    h1, h2 = got.loc[1], got.loc[2]
    # h1's last run (B): p = 0.25 / (0.25 + 0.75) = 0.25 in a field of 2, lost; opponent rating 0.5
    assert h1["f_past_mkt_last_log_prob"] == pytest.approx(math.log(0.25))
    assert h1["f_past_mkt_last_log_pn"] == pytest.approx(math.log(0.5))
    assert h1["f_past_mkt_last_strength"] == pytest.approx(math.log(1 / 3) + 0.5)
    assert h1["f_past_mkt_last_residual"] == pytest.approx(-0.25)
    # weights 1 (B) and 0.5 (A, p = 0.5, won: residual +0.5)
    assert h1["f_past_mkt_ewm_log_prob"] == pytest.approx((math.log(0.25) + 0.5 * math.log(0.5)) / 1.5)
    assert h1["f_past_mkt_ewm_residual"] == pytest.approx((-0.25 + 0.5 * 0.5) / 1.5)
    assert h1["f_past_mkt_ewm_strength"] == pytest.approx((math.log(1 / 3) + 0.5 + 0.5 * 0.0) / 1.5)
    assert h1["f_past_mkt_runs"] == 2 and h1["f_past_mkt_days_since"] == 5
    # h2: one run (A), p = 0.5, lost, opponent rating 0: strength logit(0.5) + 0 = 0
    assert h2["f_past_mkt_last_residual"] == pytest.approx(-0.5)
    assert h2["f_past_mkt_last_strength"] == pytest.approx(0.0)
    assert h2["f_past_mkt_runs"] == 1 and h2["f_past_mkt_days_since"] == 9


def test_a_race_ignores_its_own_and_later_odds_and_results():
    base = features_of("C", history())
    changed = history()
    changed.loc[changed["race_id"] == "C", ["final_odds", "is_winner"]] = [[1.1, True], [20.0, False]]
    later = pd.DataFrame(
        {
            "race_id": ["D", "D"],
            "num_pmu": [1, 2],
            "race_date": [D12, D12],
            "horse_key": ["h1", "h2"],
            "final_odds": [1.2, 9.0],
            "is_winner": [False, True],
            "f_rating_total": [1.0, -1.0],
        }
    )
    changed = pd.concat([changed, later], ignore_index=True)
    pd.testing.assert_frame_equal(features_of("C", changed), base)
    # whereas a change to an earlier race moves them
    earlier = history()
    earlier.loc[earlier["race_id"] == "B", "final_odds"] = [2.0, 2.0]
    assert features_of("C", earlier).loc[1, "f_past_mkt_last_log_prob"] == pytest.approx(math.log(0.5))


def test_same_day_races_are_excluded():
    hist = history()
    # h1 also ran (and won, at 5.0) in an earlier race of day 10
    same_day = pd.DataFrame(
        {
            "race_id": ["B2", "B2"],
            "num_pmu": [1, 2],
            "race_date": [D10, D10],
            "horse_key": ["h1", "h4"],
            "final_odds": [5.0, 1.25],
            "is_winner": [True, False],
            "f_rating_total": [0.0, 0.0],
        }
    )
    got = features_of("C", pd.concat([hist, same_day], ignore_index=True))
    assert got.loc[1, "f_past_mkt_runs"] == 2
    assert got.loc[1, "f_past_mkt_days_since"] == 5
    assert got.loc[1, "f_past_mkt_last_log_prob"] == pytest.approx(math.log(0.25))


def test_a_horse_without_a_priced_past_gets_zero_runs_and_nan():
    hist = history()
    newcomer = pd.DataFrame(
        {"race_id": ["C"], "num_pmu": [3], "race_date": [D10], "horse_key": ["h9"], "final_odds": [10.0]}
    )
    # h3 ran only in B, but unpriced there (no odds) and so counts as no priced run
    hist.loc[(hist["race_id"] == "B") & (hist["horse_key"] == "h3"), "final_odds"] = np.nan
    unknown_key = newcomer.assign(num_pmu=4, horse_key=None)
    runners = pd.concat([hist[hist["race_id"] == "C"], newcomer, unknown_key], ignore_index=True)
    got = market_history_features(runners, hist).set_index("num_pmu")
    for num in (3, 4):
        assert got.loc[num, "f_past_mkt_runs"] == 0
        others = [f for f in MARKET_HISTORY_FEATURES if f != "f_past_mkt_runs"]
        assert got.loc[num, others].isna().all()
    # with h3 unpriced, h1 alone was priced in B: p = 1, whose logit (the strength) is not finite
    assert got.loc[1, "f_past_mkt_last_log_prob"] == pytest.approx(0.0)
    assert np.isnan(got.loc[1, "f_past_mkt_last_strength"])


def test_a_past_race_without_a_winner_does_not_count():
    hist = history()
    hist.loc[hist["race_id"] == "B", "is_winner"] = None  # abandoned, or its result never landed
    got = features_of("C", hist)
    assert got.loc[1, "f_past_mkt_runs"] == 1
    assert got.loc[1, "f_past_mkt_days_since"] == 9
    assert got.loc[1, "f_past_mkt_last_residual"] == pytest.approx(0.5)
    assert list(got.columns) == ["race_id", *MARKET_HISTORY_FEATURES]
