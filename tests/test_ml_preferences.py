"""ml.preferences: condition preferences from past residuals, values worked out by hand and point in time;
ml.ratings's per-run residuals that feed them."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from ml.preferences import PREFERENCE_FEATURES, PRIOR_PRECISION, preference_features
from ml.ratings import RUN_INFORMATION, RUN_RESIDUAL, add_ratings

D1, D5, D10 = (dt.date(2025, 1, d) for d in (1, 5, 10))


def history() -> pd.DataFrame:
    """h1 ran twice before day 10: day 1 at 2000 m harness on going 3.0 (residual +0.5, information
    1.0), day 5 at 2800 m mounted, unmeasured (residual −0.6, information 0.8). Race C (day 10, the
    one described): h1 and the newcomer h2 at 2000 m harness on going 3.8, no result yet."""
    return pd.DataFrame(
        {
            "race_id": ["A", "B", "C", "C"],
            "num_pmu": [1, 1, 1, 2],
            "race_date": [D1, D5, D10, D10],
            "horse_key": ["h1", "h1", "h1", "h2"],
            "discipline": ["ATTELE", "MONTE", "ATTELE", "ATTELE"],
            "f_distance_m": [2000.0, 2800.0, 2000.0, 2000.0],
            "f_going_penetrometre": [3.0, np.nan, 3.8, 3.8],
            RUN_RESIDUAL: [0.5, -0.6, np.nan, np.nan],
            RUN_INFORMATION: [1.0, 0.8, np.nan, np.nan],
        }
    )


def features_of(race: str, hist: pd.DataFrame) -> pd.DataFrame:
    return preference_features(hist[hist["race_id"] == race], hist).set_index("num_pmu")


def test_values_worked_out_by_hand():
    got = features_of("C", history()).loc[1]
    far = math.exp(-0.5 * (800 / 400) ** 2)  # the 2800 m run, 800 m from today's trip
    assert got["f_pref_distance"] == pytest.approx((0.5 - 0.6 * far) / (PRIOR_PRECISION + 1.0 + 0.8 * far))
    assert got["f_pref_distance_weight"] == pytest.approx(1.0 + far)
    # only the harness run counts for the discipline, only the measured one for the going
    assert got["f_pref_discipline"] == pytest.approx(0.5 / (PRIOR_PRECISION + 1.0))
    assert got["f_pref_discipline_weight"] == pytest.approx(1.0)
    near = math.exp(-0.5 * (0.8 / 0.8) ** 2)
    assert got["f_pref_going"] == pytest.approx(0.5 * near / (PRIOR_PRECISION + near))
    assert got["f_pref_going_weight"] == pytest.approx(near)


def test_a_horse_without_a_past_has_the_prior_and_no_weight():
    got = features_of("C", history()).loc[2]
    assert got[list(PREFERENCE_FEATURES)].tolist() == [0.0] * len(PREFERENCE_FEATURES)


def test_an_unmeasured_going_today_has_no_going_preference():
    hist = history()
    hist.loc[hist["race_id"] == "C", "f_going_penetrometre"] = np.nan
    got = features_of("C", hist).loc[1]
    assert np.isnan(got["f_pref_going"]) and np.isnan(got["f_pref_going_weight"])
    assert got["f_pref_distance"] != 0.0


def test_only_earlier_days_count():
    """The described day's own residuals, a same-day run and a later run change nothing."""
    base = features_of("C", history())
    hist = history()
    hist.loc[hist["race_id"] == "C", [RUN_RESIDUAL, RUN_INFORMATION]] = [[5.0, 1.0], [-5.0, 1.0]]
    extra = pd.DataFrame(
        {
            "race_id": ["S", "L"],
            "num_pmu": [1, 1],
            "race_date": [D10, D10 + dt.timedelta(days=3)],
            "horse_key": ["h1", "h1"],
            "discipline": ["ATTELE", "ATTELE"],
            "f_distance_m": [2000.0, 2000.0],
            "f_going_penetrometre": [3.8, 3.8],
            RUN_RESIDUAL: [3.0, 3.0],
            RUN_INFORMATION: [1.0, 1.0],
        }
    )
    pd.testing.assert_frame_equal(features_of("C", pd.concat([hist, extra], ignore_index=True)), base)


def test_ratings_leave_each_runs_plackett_luce_residual():
    """Two newcomers (equal ratings): stage 1 gives each p = 1/2, so the winner's residual is +1/2,
    the loser's −1/2, and each information 1/4; stage 2 (the loser alone) adds nothing. A runner of
    a race without a result has none."""
    runners = pd.DataFrame(
        {
            "race_id": ["A", "A", "B"],
            "race_date": [D1, D1, D5],
            "num_pmu": [1, 2, 1],
            "horse_key": ["h1", "h2", "h1"],
            "jockey_key": ["j1", "j2", "j1"],
            "trainer_key": ["t1", "t2", "t1"],
            "finish_place": [2.0, 1.0, np.nan],
            "has_result": [True, True, False],
        }
    )
    got = add_ratings(runners).set_index(["race_id", "num_pmu"])
    assert got.loc[("A", 1), RUN_RESIDUAL] == pytest.approx(-0.5)
    assert got.loc[("A", 2), RUN_RESIDUAL] == pytest.approx(0.5)
    assert got.loc[("A", 1), RUN_INFORMATION] == pytest.approx(0.25)
    assert np.isnan(got.loc[("B", 1), RUN_RESIDUAL])
