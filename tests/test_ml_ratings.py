"""Point-in-time ratings (ml/ratings.py) on simulated Plackett–Luce races with known abilities."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ml.groups import race_starts
from ml.ratings import RATING_FEATURES, RatingConfig, add_ratings, plackett_luce_derivatives


def simulate_history(n_days=120, races_per_day=10, n_horses=400, seed=0, dnf_rate=0.1):
    """Plackett–Luce races of 10; every finisher placed, a share of runners without a place
    (disqualified, fell), whatever their ability."""
    rng = np.random.default_rng(seed)
    ability = rng.normal(0, 1.0, n_horses)
    rows = []
    for d in range(n_days):
        day = dt.date(2024, 1, 1) + dt.timedelta(days=d)
        horses = rng.permutation(n_horses)[: races_per_day * 10].reshape(races_per_day, 10)
        for r, field in enumerate(horses):
            # Plackett–Luce order: Gumbel trick
            order = np.argsort(-(ability[field] + rng.gumbel(size=10)))
            dnf = rng.random(10) < dnf_rate
            finishers = [i for i in order if not dnf[i]]
            place = np.full(10, np.nan)
            place[finishers] = np.arange(1, len(finishers) + 1)
            for i, h in enumerate(field):
                rows.append(
                    {
                        "race_id": f"{day}-R1-C{r + 1}",
                        "race_date": day,
                        "num_pmu": i + 1,
                        "horse_key": f"h{h}",
                        "jockey_key": None,
                        "trainer_key": None,
                        "finish_place": np.nan if dnf[i] else place[i],
                        "has_result": True,
                    }
                )
    return pd.DataFrame(rows), ability


def _log_likelihood(x, place, races):
    """Plackett–Luce log-likelihood of the placed runners' order, written out stage by stage."""
    total = 0.0
    for race in races:
        xs, ps = x[race], place[race]
        remaining = np.isfinite(ps)
        for k in range(1, int(np.nanmax(ps)) + 1):
            i = int(np.flatnonzero(ps == k)[0])
            total += xs[i] - np.log(np.exp(xs[remaining]).sum())
            remaining[i] = False
    return total


def test_derivatives_match_finite_differences_of_the_plackett_luce_likelihood():
    ids = np.array(["a"] * 5 + ["b"] * 4)
    starts = race_starts(ids)
    races = (slice(0, 5), slice(5, 9))
    place = np.array([2, 1, np.nan, 3, 4, 1, np.nan, 2, 3])  # NaN: no place, out of the race's likelihood
    s = np.array([0.3, -0.1, 0.5, 0.0, 0.2, 1.0, -1.0, 0.4, 0.1])
    h = 1e-4
    unit = np.eye(len(s))
    up = np.array([_log_likelihood(s + h * e, place, races) for e in unit])
    down = np.array([_log_likelihood(s - h * e, place, races) for e in unit])
    numeric_grad = (up - down) / (2 * h)
    numeric_fisher = -(up - 2 * _log_likelihood(s, place, races) + down) / h**2
    grad, fisher = plackett_luce_derivatives(s, place, starts)
    np.testing.assert_allclose(grad, numeric_grad, atol=1e-6)
    np.testing.assert_allclose(fisher, numeric_fisher, atol=1e-5)
    assert grad[2] == grad[6] == fisher[2] == fisher[6] == 0.0  # the unplaced take no part


def test_a_runner_without_a_place_keeps_its_rating():
    history, _ = simulate_history(n_days=10, races_per_day=4, n_horses=60, seed=4, dnf_rate=0.0)
    first_day = history.race_date.min()
    runs_again = set(history.loc[history.race_date > first_day, "horse_key"])
    day_one = history[(history.race_date == first_day) & history.horse_key.isin(runs_again)]
    horse = day_one.loc[day_one.finish_place.idxmin(), "horse_key"]  # a day-1 winner that runs again
    history.loc[(history.race_date == first_day) & (history.horse_key == horse), "finish_place"] = np.nan
    rated = add_ratings(history)
    next_run = rated[(rated.race_date > first_day) & (rated.horse_key == horse)].iloc[0]
    config = RatingConfig()
    assert next_run["f_rating_horse"] == 0.0  # neither the win it lost nor a defeat
    widened = np.sqrt(config.prior_var_horse + config.drift_var_horse)  # it ran: form moved
    assert next_run["f_rating_horse_sd"] == pytest.approx(widened)
    assert next_run["f_rating_horse_runs"] == 1


def test_beliefs_narrow_with_runs_so_veterans_move_less():
    history, _ = simulate_history(n_days=60, seed=5)
    rated = add_ratings(history).sort_values(["horse_key", "race_date"])
    sd_by_runs = rated.groupby("f_rating_horse_runs")["f_rating_horse_sd"].mean()
    assert sd_by_runs.loc[0] > sd_by_runs.loc[3] > sd_by_runs.loc[8]
    step = rated.groupby("horse_key")["f_rating_horse"].diff().abs()
    runs = rated["f_rating_horse_runs"]
    assert step[runs == 1].mean() > step[runs >= 8].mean()


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
    learned = [f for f in RATING_FEATURES if f != "f_rating_horse_sd"]
    assert (first[learned] == 0).all().all()
    assert np.allclose(first["f_rating_horse_sd"], np.sqrt(RatingConfig().prior_var_horse))
    assert (rated.loc[rated.horse_key.isna(), "f_rating_horse"] == 0).all()


@pytest.mark.parametrize("bad", ["race_id", "race_date"])
def test_missing_required_columns_fail_loudly(bad):
    history, _ = simulate_history(n_days=2, seed=3)
    with pytest.raises(KeyError):
        add_ratings(history.drop(columns=[bad]))
