"""Point-in-time ratings (ml/ratings.py) on simulated Plackett–Luce races with known abilities."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ml.groups import race_starts
from ml.ratings import RATING_FEATURES, add_ratings, plackett_luce_gradient


def simulate_history(n_days=120, races_per_day=10, n_horses=400, seed=0):
    rng = np.random.default_rng(seed)
    ability = rng.normal(0, 1.0, n_horses)
    rows = []
    for d in range(n_days):
        day = dt.date(2024, 1, 1) + dt.timedelta(days=d)
        horses = rng.permutation(n_horses)[: races_per_day * 10].reshape(races_per_day, 10)
        for r, field in enumerate(horses):
            # Plackett–Luce order: Gumbel trick
            order = np.argsort(-(ability[field] + rng.gumbel(size=10)))
            place = np.empty(10)
            place[order] = np.arange(1, 11)
            for i, h in enumerate(field):
                rows.append(
                    {
                        "race_id": f"{day}-R1-C{r + 1}",
                        "race_date": day,
                        "num_pmu": i + 1,
                        "horse_key": f"h{h}",
                        "jockey_key": None,
                        "trainer_key": None,
                        "finish_place": place[i] if place[i] <= 5 else np.nan,
                        "has_result": True,
                    }
                )
    return pd.DataFrame(rows), ability


def test_gradient_matches_finite_differences_of_the_plackett_luce_likelihood():
    ids = np.array(["a"] * 5 + ["b"] * 4)
    starts = race_starts(ids)
    place = np.array([2, 1, np.nan, 3, np.nan, 1, np.nan, 2, 3])
    s = np.array([0.3, -0.1, 0.5, 0.0, 0.2, 1.0, -1.0, 0.4, 0.1])

    def log_lik(x):
        total = 0.0
        for race in (slice(0, 5), slice(5, 9)):
            xs, ps = x[race], place[race]
            remaining = np.ones(len(xs), bool)
            for k in (1, 2, 3):
                i = int(np.flatnonzero(ps == k)[0])
                total += xs[i] - np.log(np.exp(xs[remaining]).sum())
                remaining[i] = False
        return total

    h = 1e-6
    numeric = np.array([(log_lik(s + h * e) - log_lik(s - h * e)) / (2 * h) for e in np.eye(len(s))])
    np.testing.assert_allclose(plackett_luce_gradient(s, place, starts), numeric, atol=1e-6)


def test_ratings_learn_the_abilities():
    history, ability = simulate_history()
    rated = add_ratings(history)
    last_day = rated[rated.race_date == rated.race_date.max()]
    true = ability[last_day.horse_key.str[1:].astype(int)]
    assert np.corrcoef(last_day["f_rating_horse"], true)[0, 1] > 0.7
    # runs counted before the day = the horse's earlier rows (one race a day at most here)
    np.testing.assert_array_equal(rated["f_rating_horse_runs"], rated.groupby("horse_key").cumcount())


def test_a_days_ratings_ignore_that_day_and_later_results():
    history, _ = simulate_history(n_days=30, seed=1)
    day = dt.date(2024, 1, 20)
    base = add_ratings(history)
    changed = history.copy()
    later = changed.race_date >= day
    changed.loc[later, "finish_place"] = (
        changed.loc[later, "finish_place"].sample(frac=1, random_state=0).to_numpy()
    )
    again = add_ratings(changed)
    on_day = base.race_date == day
    pd.testing.assert_frame_equal(
        base.loc[on_day, list(RATING_FEATURES)], again.loc[on_day, list(RATING_FEATURES)]
    )
    after = base.race_date > day
    assert not np.allclose(base.loc[after, "f_rating_horse"], again.loc[after, "f_rating_horse"])


def test_first_day_has_no_ratings_and_unknown_keys_never_learn():
    history, _ = simulate_history(n_days=5, seed=2)
    history.loc[history.index[::3], "horse_key"] = None
    rated = add_ratings(history)
    first = rated[rated.race_date == rated.race_date.min()]
    assert (first[list(RATING_FEATURES)] == 0).all().all()
    assert (rated.loc[rated.horse_key.isna(), "f_rating_horse"] == 0).all()


@pytest.mark.parametrize("bad", ["race_id", "race_date"])
def test_missing_required_columns_fail_loudly(bad):
    history, _ = simulate_history(n_days=2, seed=3)
    with pytest.raises(KeyError):
        add_ratings(history.drop(columns=[bad]))
