"""The maths of ml/ on simulated conditional-logit worlds with known coefficients (no database)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ml import metrics
from ml.condlogit import ConditionalLogit
from ml.evaluate import evaluate_predictions, walk_forward_predict
from ml.frames import prepare
from ml.groups import log_softmax_by_race, race_starts, softmax_by_race, win_targets
from ml.models import WinModel
from ml.simulate import simulate_races
from ml.splits import day_folds, race_folds, walk_forward_splits


@pytest.fixture(scope="module")
def world() -> pd.DataFrame:
    return simulate_races(60, 30, seed=1)


def test_softmax_by_race_matches_a_per_race_loop():
    ids = np.array(["a", "a", "a", "b", "b", "c", "c", "c", "c"])
    scores = np.array([1.0, 2.0, 3.0, 1000.0, 1001.0, -5.0, 0.0, 0.0, 5.0])
    starts = race_starts(ids)
    p = softmax_by_race(scores, starts)
    for race in "abc":
        s = scores[ids == race]
        expected = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
        np.testing.assert_allclose(p[ids == race], expected)
    np.testing.assert_allclose(np.exp(log_softmax_by_race(scores, starts)), p)


def test_race_starts_refuses_ungrouped_rows():
    with pytest.raises(ValueError, match="grouped"):
        race_starts(np.array(["a", "b", "a"]))


def test_dead_heat_target_splits_the_win():
    starts = race_starts(np.array(["a"] * 4 + ["b"] * 3))
    t = win_targets(np.array([1, 1, 0, 0, 0, 0, 1]), starts)
    np.testing.assert_allclose(t, [0.5, 0.5, 0, 0, 0, 0, 1])


def test_conditional_logit_recovers_known_coefficients():
    df = simulate_races(150, 40, beta=(1.0, -0.6, 0.3), n_noise=1, seed=3)
    starts = race_starts(df["race_id"].to_numpy())
    X = df[["f_x0", "f_x1", "f_x2", "f_noise0"]].to_numpy()
    model = ConditionalLogit().fit(X, win_targets(df["won"].to_numpy(), starts), starts)
    # ~6,000 races: standard errors are about 0.02-0.03.
    np.testing.assert_allclose(model.coef_, [1.0, -0.6, 0.3, 0.0], atol=0.08)
    assert model.converged_


def test_conditional_logit_gradient_matches_finite_differences():
    from ml.condlogit import _neg_log_likelihood

    df = simulate_races(3, 10, seed=4)
    starts = race_starts(df["race_id"].to_numpy())
    X = df[["f_x0", "f_x1", "f_noise0"]].to_numpy()
    target = win_targets(df["won"].to_numpy(), starts)
    total = np.ones(len(df))
    beta = np.array([0.3, -0.2, 0.1])
    _, grad = _neg_log_likelihood(beta, X, target, starts, total, len(starts), 0.01)
    h = 1e-6
    numeric = [
        (
            _neg_log_likelihood(beta + h * e, X, target, starts, total, len(starts), 0.01)[0]
            - _neg_log_likelihood(beta - h * e, X, target, starts, total, len(starts), 0.01)[0]
        )
        / (2 * h)
        for e in np.eye(3)
    ]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_walk_forward_never_tests_before_training():
    dates = np.array(
        [
            dt.date(2024, 1, 1) + dt.timedelta(days=int(d))
            for d in np.random.default_rng(0).integers(0, 50, 500)
        ]
    )
    folds = list(walk_forward_splits(dates, min_train_days=20, test_days=7))
    tested = np.concatenate([f.test_rows for f in folds])
    assert len(tested) == len(set(tested.tolist()))
    first_test_day = sorted(set(dates.tolist()))[20]
    assert set(tested.tolist()) == set(np.flatnonzero(dates >= first_test_day).tolist())
    for f in folds:
        assert dates[f.train_rows].max() < dates[f.test_rows].min()
        assert f.train_end < f.test_start


def test_group_kfold_keeps_races_whole():
    ids = np.repeat(np.arange(40), 7).astype(str)
    for fit_rows, held_rows in race_folds(ids, 5):
        assert not set(ids[fit_rows]) & set(ids[held_rows])


def test_pseudo_r2_is_zero_for_uniform_and_one_for_certainty():
    ids = np.array(["a"] * 4 + ["b"] * 5)
    starts = race_starts(ids)
    won = np.array([0, 1, 0, 0, 1, 0, 0, 0, 0])
    uniform = np.r_[np.full(4, 0.25), np.full(5, 0.2)]
    assert metrics.pseudo_r2(uniform, won, starts) == pytest.approx(0.0)
    assert metrics.pseudo_r2(won.astype(float), won, starts) == pytest.approx(1.0)
    # log loss by hand: race a p=0.25 for the winner, race b p=0.2
    assert metrics.log_loss(uniform, won, starts) == pytest.approx((np.log(4) + np.log(5)) / 2)


def test_value_bet_roi_by_hand():
    ids = np.array(["a", "a", "b", "b"])
    starts = race_starts(ids)
    target = np.array([1.0, 0, 0, 1.0])
    p = np.array([0.6, 0.4, 0.6, 0.4])
    odds_now = np.array([2.0, 2.0, 2.0, 2.0])  # edges +0.2, -0.2, +0.2, -0.2
    final = np.array([2.5, 1.8, 1.6, 2.2])
    vb = metrics.value_bets(p, target, starts, odds_now, final, min_edge=0.05, n_boot=50)
    assert vb["bets"] == 2
    assert vb["roi"] == pytest.approx(((2.5 - 1) + (-1)) / 2)  # won at closing 2.5, lost the other
    assert vb["clv_mean"] == pytest.approx(((2.0 / 2.5 - 1) + (2.0 / 1.6 - 1)) / 2)


def test_kelly_fraction_is_floored_and_capped():
    f = metrics.kelly_fraction(np.array([0.5, 0.1, 0.9]), np.array([3.0, 3.0, 10.0]), cap=0.05)
    np.testing.assert_allclose(f, [0.05, 0.0, 0.05])
    assert metrics.kelly_fraction(np.array([0.3]), np.array([4.0]), cap=1.0)[0] == pytest.approx(0.2 / 3)


def test_attainable_gain_is_one_for_truth_and_zero_for_market(world):
    df = prepare(world)
    starts = race_starts(df["race_id"].to_numpy())
    t = win_targets(df["won"].to_numpy(), starts)
    truth, market = df["p_truth"].to_numpy(), df["mkt_prob"].to_numpy()
    assert metrics.attainable_gain(truth, market, truth, t, starts) == pytest.approx(1.0)
    assert metrics.attainable_gain(market, market, truth, t, starts) == pytest.approx(0.0)


def test_simulated_winners_follow_the_true_probabilities(world):
    """Sanity of the test world itself: binned true probabilities match observed win rates."""
    table = metrics.calibration_table(world["p_truth"].to_numpy(), world["won"].to_numpy(), 5)
    for row in table:
        se = np.sqrt(row["mean_p"] * (1 - row["mean_p"]) / row["runners"])
        assert abs(row["win_rate"] - row["mean_p"]) < 4 * se + 0.005


@pytest.mark.parametrize("kind", ["condlogit", "lgbm"])
def test_probabilities_sum_to_one_per_race(world, kind):
    model = WinModel(kind=kind, n_folds=3).fit(world[world.race_date < dt.date(2024, 2, 10)])
    preds = model.predict(world[world.race_date >= dt.date(2024, 2, 10)].drop(columns=["won"]))
    sums = preds.groupby("race_id")[["p_model", "p_market", "p_combined"]].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-9)
    assert "target" not in preds.columns


def test_temperature_calibration_improves_log_loss_of_overconfident_scores():
    df = prepare(simulate_races(80, 30, seed=5))
    starts = race_starts(df["race_id"].to_numpy())
    t = win_targets(df["won"].to_numpy(), starts)
    utility = df[["f_x0", "f_x1", "f_x2"]].to_numpy() @ np.array([0.8, -0.5, 0.3])
    overconfident = 3.0 * utility
    temp = ConditionalLogit().fit(overconfident[:, None], t, starts).coef_[0]
    assert temp == pytest.approx(1 / 3, rel=0.15)
    before = metrics.log_loss(softmax_by_race(overconfident, starts), t, starts)
    after = metrics.log_loss(softmax_by_race(temp * overconfident, starts), t, starts)
    assert after < before - 0.05


@pytest.mark.parametrize("kind", ["condlogit", "lgbm"])
def test_model_with_signal_beats_market_and_no_feature_model(world, kind):
    preds, folds, model = walk_forward_predict(
        world, lambda: WinModel(kind=kind, n_folds=3), min_train_days=40, test_days=10
    )
    result = evaluate_predictions(preds, n_boot=300)
    assert result["races"] == 20 * 30
    # A model that ignores the features gives every runner 1/n: pseudo-R² 0 by definition.
    assert result["model"]["pseudo_r2"] > 0.08
    assert result["delta_r2_combined_vs_market"]["ci_low"] > 0
    assert result["combined"]["log_loss"] < result["market"]["log_loss"]
    assert result["attainable_gain"] > 0.3
    assert model.combiner[0] > 0.3  # the second stage leans on the model


def test_condlogit_baseline_picks_the_signal_features(world):
    model = WinModel(kind="condlogit", baseline_k=3, n_folds=3).fit(world)
    assert sorted(model.features) == ["f_x0", "f_x1", "f_x2"]


def test_noise_features_do_not_beat_the_market():
    df = simulate_races(60, 30, seed=7, market_noise=0.3)
    noise_only = df.drop(columns=["f_x0", "f_x1", "f_x2"])
    preds, _, model = walk_forward_predict(
        noise_only, lambda: WinModel(kind="lgbm", n_folds=3), min_train_days=40, test_days=10
    )
    result = evaluate_predictions(preds, n_boot=300)
    assert result["model"]["pseudo_r2"] < 0.02
    assert result["delta_r2_combined_vs_market"]["value"] < 0.005
    assert result["delta_r2_combined_vs_market"]["ci_low"] < 0
    # The second stage keeps the market's weight (α on a near-constant noise score is unidentified).
    assert model.combiner[1] > 0.7


def test_missing_features_and_market_prices_are_handled():
    df = simulate_races(30, 20, seed=8, missing_rate=0.2)
    df.loc[df.index[::17], "mkt_implied_prob"] = np.nan
    model = WinModel(kind="lgbm", n_folds=3).fit(df)
    preds = model.predict(df)
    assert np.isfinite(preds[["p_model", "p_market", "p_combined"]].to_numpy()).all()
    cl = WinModel(kind="condlogit", n_folds=3).fit(df)
    assert np.isfinite(cl.predict(df)["p_combined"]).all()


def test_frame_contract_errors_are_clear():
    df = simulate_races(2, 2, seed=9)
    with pytest.raises(ValueError, match="won"):
        prepare(df.drop(columns=["won"]))
    with pytest.raises(ValueError, match="duplicate"):
        prepare(pd.concat([df, df.iloc[:1]]))
    with pytest.raises(ValueError, match="features not in the frame"):
        WinModel(features=["f_nope"]).fit(df)


def test_save_and_load_give_the_same_predictions(world, tmp_path):
    for kind in ("lgbm", "condlogit"):
        model = WinModel(kind=kind, n_folds=3).fit(world)
        model.save(tmp_path / kind)
        again = WinModel.load(tmp_path / kind)
        a, b = model.predict(world), again.predict(world)
        np.testing.assert_allclose(a["p_combined"], b["p_combined"], rtol=1e-9)
        assert (tmp_path / kind / "manifest.json").exists() and (tmp_path / kind / "calibrator.json").exists()
    assert (tmp_path / "lgbm" / "model.txt").read_text().startswith("tree")
    assert (tmp_path / "lgbm" / "model_2.txt").read_text().startswith("tree")  # the ensemble's third


def test_post_race_columns_are_refused_as_features():
    df = simulate_races(5, 5, seed=10)
    df["f_final_odds"] = df["final_odds"]
    df["f_finish_place"] = 1.0
    with pytest.raises(ValueError, match="post-race"):
        WinModel(kind="condlogit").fit(df)
    with pytest.raises(ValueError, match="f_final_odds"):
        WinModel(features=["f_x0", "f_final_odds"]).fit(df)


def test_morning_market_ignores_snapshots_served_after_the_start():
    from ml.dataset import with_market

    start = pd.Timestamp("2024-05-01 13:00", tz="UTC")
    df = pd.DataFrame(
        {
            "race_id": ["r"] * 3,
            "num_pmu": [1, 2, 3],
            "race_start_at": [start] * 3,
            "mkt_odds": [9.9, 9.9, 9.9],
            "mkt_implied_prob": [0.3, 0.3, 0.4],
        }
    )
    snap = pd.DataFrame(
        {
            "race_id": ["r"] * 3,
            "num_pmu": [1, 2, 3],
            "odds": [2.0, 4.0, 4.0],
            "served_at": [start - pd.Timedelta(hours=4)] * 2 + [start + pd.Timedelta(minutes=1)],
        }
    )
    out = with_market(df, snap)
    assert out["mkt_odds"].iloc[2] != out["mkt_odds"].iloc[2]  # NaN: served after the off
    np.testing.assert_allclose(out["mkt_implied_prob"].iloc[:2], [2 / 3, 1 / 3])
    assert list(out["mkt_odds_rank"].iloc[:2]) == [1, 2]


# --- calibration on the latest races, tail calibration ---------------------------------------------


def test_latest_races_split_holds_out_the_last_races_in_date_order():
    from ml.splits import latest_races_split

    ids = np.array(["2024-01-01-R1-C1"] * 3 + ["2024-01-01-R1-C2"] * 2 + ["2024-01-02-R1-C1"] * 4)
    fit_rows, held_rows = latest_races_split(ids, 0.34)  # one race of three
    assert held_rows.tolist() == [5, 6, 7, 8] and fit_rows.tolist() == [0, 1, 2, 3, 4]
    assert latest_races_split(ids, 0.0)[1].tolist() == [5, 6, 7, 8]  # at least one race held out
    assert latest_races_split(ids, 1.0)[0].tolist() == [0, 1, 2]  # and at least one kept
    with pytest.raises(ValueError, match="2 races"):
        latest_races_split(ids[:3], 0.2)


def _tail_world(c2: float, n_races: int = 4000, seed: int = 5):
    """Races whose true win probabilities are ∝ exp(log p + c2·(log p)²) of a stated p."""
    from ml.groups import log_softmax_by_race, race_starts, win_targets

    rng = np.random.default_rng(seed)
    sizes = rng.integers(6, 15, n_races)
    race = np.repeat(np.arange(n_races), sizes)
    starts = race_starts(race)
    log_p = log_softmax_by_race(rng.normal(0, 1.2, len(race)), starts)
    true_p = np.exp(log_softmax_by_race(log_p + c2 * log_p**2, starts))
    won = np.zeros(len(race))
    for r in range(n_races):
        rows = np.arange(starts[r], starts[r] + sizes[r])
        won[rng.choice(rows, p=true_p[rows] / true_p[rows].sum())] = 1.0
    return log_p, win_targets(won, starts), starts


def test_fit_tail_finds_an_over_predicted_tail_and_leaves_a_calibrated_one_alone():
    from ml.models import IDENTITY_TAIL, apply_tail, fit_tail

    log_p, target, starts = _tail_world(-0.15)
    coef = fit_tail(log_p, target, starts)
    assert coef[1] == pytest.approx(-0.15, abs=0.06) and coef[0] == pytest.approx(1.0, abs=0.2)
    # long shots come down, favourites go up
    moved = np.exp(apply_tail(log_p, coef, starts)) / np.exp(log_p)
    assert moved[log_p < np.log(0.02)].mean() < 0.9 and moved[log_p > np.log(0.3)].mean() > 1.0

    log_p, target, starts = _tail_world(0.0)
    assert fit_tail(log_p, target, starts).tolist() == IDENTITY_TAIL.tolist()
    np.testing.assert_allclose(apply_tail(log_p, IDENTITY_TAIL, starts), log_p, atol=1e-12)


def test_every_race_is_evaluated_and_split_by_market_coverage():
    # three races: every runner priced, one runner unpriced, none priced
    frame = pd.DataFrame(
        {
            "race_id": ["2024-01-01-R1-C1"] * 3 + ["2024-01-01-R1-C2"] * 3 + ["2024-01-01-R1-C3"] * 3,
            "race_date": [dt.date(2024, 1, 1)] * 9,
            "num_pmu": [1, 2, 3] * 3,
            "mkt_implied_prob": [0.5, 0.3, 0.2, 0.6, 0.3, np.nan, np.nan, np.nan, np.nan],
            "won": [1, 0, 0, 0, 1, 0, 0, 0, 1],
        }
    )
    prepared = prepare(frame)
    assert prepared["mkt_priced"].tolist() == [True] * 5 + [False] * 4
    # the unpriced runner of a partly priced field gets half the field's smallest price
    np.testing.assert_allclose(prepared["mkt_prob"][3:6], np.array([0.6, 0.3, 0.15]) / 1.05)
    preds = prepared.assign(
        p_model=[0.4, 0.4, 0.2, 0.2, 0.5, 0.3, 0.25, 0.25, 0.5],
        p_market=prepared["mkt_prob"],
        p_combined=[0.5, 0.3, 0.2, 0.3, 0.5, 0.2, 0.25, 0.25, 0.5],
        target=prepared["won"],
    )
    result = evaluate_predictions(preds, n_boot=20)
    assert result["races"] == 2 and result["races_without_market"] == 1  # market comparisons
    assert result["all_races"]["races"] == 3 and result["all_races"]["runners"] == 9
    assert {k: v["races"] for k, v in result["coverage"].items()} == {"full": 1, "partly": 1, "none": 1}
    # log loss by hand: −log of the winner's probability, averaged over the races of the class
    assert result["all_races"]["combined"]["log_loss"] == pytest.approx(-np.log([0.5, 0.5, 0.5]).mean())
    assert result["coverage"]["none"]["model"]["log_loss"] == pytest.approx(-np.log(0.5))
    assert "market" not in result["coverage"]["none"]
    assert result["coverage"]["partly"]["market"]["log_loss"] == pytest.approx(-np.log(0.3 / 1.05))


def test_calibration_bins_carry_their_standard_error():
    p = np.full(100, 0.1)
    won = np.r_[np.ones(20), np.zeros(80)]
    (row,) = metrics.calibration_table(p, won)
    assert row["se"] == pytest.approx(0.03) and row["z"] == pytest.approx(0.1 / 0.03)
    assert not metrics.calibrated_within([row]) and metrics.calibrated_within([row], z=3.5)


def test_cumulative_roi_by_date_is_profit_over_stakes_per_date_with_a_band_around_it():
    dates = np.array(["2025-01-02", "2025-01-01", "2025-01-02", "2025-01-03"], dtype="datetime64[D]")
    profits = np.array([-1.0, 4.0, -1.0, -1.0])  # one 5/1 winner on the first day, then losers
    curve = metrics.cumulative_roi_by_date(dates, profits, n_boot=500, seed=1)
    assert [str(d) for d in curve["dates"]] == ["2025-01-01", "2025-01-02", "2025-01-03"]
    assert curve["bets"].tolist() == [1, 3, 4]
    assert curve["roi"].tolist() == pytest.approx([4.0, 2.0 / 3.0, 1.0 / 4.0])
    assert np.all(curve["low"] <= curve["roi"] + 1e-12) and np.all(curve["roi"] <= curve["high"] + 1e-12)
    assert curve["high"][-1] > curve["low"][-1]  # four bets, one winner: an uncertain ROI
    assert metrics.cumulative_roi_by_date(dates[:0], profits[:0])["roi"].size == 0


def test_binomial_se_of_a_rate():
    assert metrics.binomial_se([0.5, 0.0], [100, 10]).tolist() == pytest.approx([0.05, 0.0])


@pytest.mark.parametrize(("calibration", "fits"), [("ensemble", "3/3"), ("cross_fit", "4/4")])
def test_lgbm_training_progress_names_fits_and_boosting_rounds(capsys, calibration, fits):
    frame = simulate_races(8, 10, seed=3)
    WinModel(kind="lgbm", n_folds=3, max_rounds=40, calibration=calibration).fit(frame, progress=True)
    bar = capsys.readouterr().err
    assert fits in bar  # 3 out-of-fold fits (and cross_fit's final one)
    assert "round " in bar and ("fold 3/3" in bar or "final fit" in bar)


# --- the cross-fit ensemble ------------------------------------------------------------------------


def test_day_folds_keep_days_whole_and_fall_back_to_races():
    dates = np.repeat(np.arange(6), [3, 5, 2, 4, 4, 3])
    races = np.arange(len(dates)) // 2
    folds = day_folds(dates, races, 2)
    held_days = [set(dates[held]) for _, held in folds]
    assert held_days[0].isdisjoint(held_days[1]) and held_days[0] | held_days[1] == set(range(6))
    for fit, held in folds:
        assert set(dates[fit]).isdisjoint(dates[held])
    one_day = day_folds(np.zeros(6), np.array([0, 0, 1, 1, 2, 2]), 2)
    assert all(
        set(np.array([0, 0, 1, 1, 2, 2])[h]).isdisjoint(np.array([0, 0, 1, 1, 2, 2])[f]) for f, h in one_day
    )


def test_ensemble_members_score_only_the_days_they_did_not_learn():
    frame = simulate_races(16, 20, beta=(1.5, 0.0, 0.0), seed=7)
    df = prepare(frame)
    (_, first_fold), _ = day_folds(df["race_date"].to_numpy(), df["race_id"].to_numpy(), 2)
    # on one fold's days the signal points the other way: the member that learnt the other days
    # scores these backwards, so out-of-fold scores fit a negative temperature (in-sample: positive)
    flipped = frame["race_date"].isin(set(df["race_date"].iloc[first_fold]))
    frame.loc[flipped, "f_x0"] *= -1
    model = WinModel(kind="lgbm", features=["f_x0"], max_rounds=100).fit(frame)
    assert model.temperature < 0
    unflipped = WinModel(kind="lgbm", features=["f_x0"], max_rounds=100).fit(
        simulate_races(16, 20, beta=(1.5, 0.0, 0.0), seed=7)
    )
    assert unflipped.temperature > 0


def test_ensemble_predicts_with_its_members_mean_margin_and_fits_no_extra_model(world):
    model = WinModel(kind="lgbm", n_folds=3, max_rounds=200).fit(world)
    assert len(model.boosters) == 3 and model.training["stage1_fits"] == 3
    assert model.training["calibration_races"] == model.training["races"]  # every race out of fold
    preds = model.predict(world)
    df = prepare(world)
    matrix = model._lgbm_matrix(df).to_numpy()
    margin = np.mean([b.predict(matrix, raw_score=True) for b in model.boosters], axis=0)
    expected = softmax_by_race(model.temperature * margin, race_starts(df["race_id"].to_numpy()))
    np.testing.assert_allclose(preds["p_model"], expected, rtol=1e-9)
    # the members differ (each learnt other days), so the mean is not one of them
    assert not np.allclose(margin, model.boosters[0].predict(matrix, raw_score=True))
    assert set(model.training["seconds"]) == {"prepare", "matrix", "dataset", "stage1", "calibration"}
