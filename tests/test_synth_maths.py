"""The pure maths behind synthetic days: Plackett–Luce, the market's odds, dividends."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from synth.maths import (
    dividend_cents,
    harville,
    market_probabilities,
    odds_from_probabilities,
    overround,
    plackett_luce_order,
    softmax,
)


def test_softmax_is_a_distribution_ordered_like_the_scores():
    p = softmax(np.array([2.0, 0.0, -1.0, 0.0]))
    assert p.sum() == pytest.approx(1.0)
    assert p[0] > p[1] > p[2]
    assert p[1] == pytest.approx(p[3])
    assert p[0] / p[1] == pytest.approx(np.exp(2.0))
    # shifting every score changes nothing (only differences matter), and huge scores don't overflow
    assert np.allclose(softmax(np.array([1000.0, 999.0])), softmax(np.array([1.0, 0.0])))


def test_plackett_luce_winner_frequencies_are_the_softmax():
    rng = np.random.default_rng(7)
    scores = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    draws = 40_000
    winners = np.bincount([plackett_luce_order(scores, rng)[0] for _ in range(draws)], minlength=4) / draws
    expected = np.array([0.5, 0.3, 0.15, 0.05])
    # four standard errors of a binomial share
    assert np.all(np.abs(winners - expected) < 4 * np.sqrt(expected * (1 - expected) / draws))


def test_plackett_luce_second_place_follows_the_renormalised_strengths():
    rng = np.random.default_rng(8)
    scores = np.log(np.array([0.6, 0.3, 0.1]))
    draws = 30_000
    orders = [plackett_luce_order(scores, rng) for _ in range(draws)]
    # P(2nd = 1 | 1st = 0) = 0.3 / (0.3 + 0.1) = 0.75
    after_first = [o[1] for o in orders if o[0] == 0]
    share = np.mean(np.array(after_first) == 1)
    assert share == pytest.approx(0.75, abs=4 * np.sqrt(0.75 * 0.25 / len(after_first)))


def test_odds_are_rounded_like_pmu_and_carry_the_takeout():
    odds = odds_from_probabilities(np.array([0.5, 0.3, 0.15, 0.05]), takeout=0.15)
    assert odds.tolist() == [1.7, 2.8, 5.7, 17.0]  # 0.85/q: one decimal below 10, whole from 10 on
    assert odds_from_probabilities(np.array([0.99]), 0.15)[0] == 1.1  # PMU's minimum
    assert odds_from_probabilities(np.array([1e-5]), 0.15)[0] == 999.0  # 85,000 uncapped
    q = np.full(10, 0.1)
    assert overround(odds_from_probabilities(q, 0.15)) == pytest.approx(1 / 0.85, rel=0.01)


def test_market_view_flattens_the_truth_when_biased():
    p = np.array([0.6, 0.25, 0.1, 0.05])
    rng = np.random.default_rng(0)
    q = market_probabilities(p, 0.0, 0.8, rng, noise=np.zeros(4))
    assert q.sum() == pytest.approx(1.0)
    assert q[0] < p[0] and q[-1] > p[-1]  # favourite under-bet, longshot over-bet
    unbiased = market_probabilities(p, 0.0, 1.0, rng, noise=np.zeros(4))
    assert np.allclose(unbiased, p)


def test_harville_orders_sum_to_one():
    q = np.array([0.4, 0.3, 0.2, 0.1])
    total = sum(harville(q, order) for order in itertools.permutations(range(4), 2))
    assert total == pytest.approx(1.0)
    assert harville(q, [0, 1]) == pytest.approx(0.4 * 0.3 / 0.6)


def test_dividends_are_whole_tens_of_cents_and_at_least_the_minimum():
    assert dividend_cents(0.5, 0.15) == 170
    assert dividend_cents(0.333, 0.15) == 250  # 255.2 rounded down to ten cents
    assert dividend_cents(0.99, 0.15) == 110
    assert dividend_cents(0.001, 0.3) == 70000


def test_a_flat_race_left_without_horses_is_drawn_as_cancelled():
    """Small worlds (few meetings a day) can leave a galop race with an empty field: it must come
    out cancelled with empty arrays, not crash the whole generation."""
    from datetime import date

    from synth import catalog as cat
    from synth.world import SynthConfig, World

    day = date(2024, 1, 1)
    world = World(SynthConfig(), 0, day)
    races = world.plan_day(day)
    world._fill_fields(day.toordinal(), day.year, races)
    race = next(r for r in races if r.circuit.kind != cat.TROT)
    race.horses = np.zeros(0, dtype=np.int64)
    world._draw_race(race, day.year)
    assert race.cancelled
    assert len(race.p_true) == len(race.weight) == len(race.horses) == 0
    assert race.order == []
