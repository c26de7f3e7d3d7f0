"""Finishing-order probabilities (ml/finishing.py) on fields worked by hand, and the bet rules
(pmu_core.facts.BET_RULES) checked against PMU's real rapports-definitifs bodies."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from ml import finishing as f
from pmu_core.facts import BET_RULES, bet_rule, payout_top, simple_place_places

P3 = np.array([0.5, 0.3, 0.2])
P4 = np.array([0.4, 0.3, 0.2, 0.1])


def harville_by_hand(p, order):
    """Harville: p_a · p_b/(1 - p_a) · p_c/(1 - p_a - p_b) … written out for the tests."""
    prob, left = 1.0, 1.0
    for horse in order:
        prob *= p[horse] / left
        left -= p[horse]
    return prob


# ---- three runners, every order by hand --------------------------------------------------------


def test_three_runner_orders_under_harville_by_hand():
    # 0.5·0.3/0.5 = 0.3; 0.5·0.2/0.5 = 0.2; 0.3·0.5/0.7 = 3/14; 0.3·0.2/0.7 = 3/35;
    # 0.2·0.5/0.8 = 0.125; 0.2·0.3/0.8 = 0.075
    expected = {
        (0, 1, 2): 0.3,
        (0, 2, 1): 0.2,
        (1, 0, 2): 3 / 14,
        (1, 2, 0): 3 / 35,
        (2, 0, 1): 0.125,
        (2, 1, 0): 0.075,
    }
    prefix = f.prefix_probabilities(P3, 3)
    for order, prob in expected.items():
        assert f.ordered_probability(P3, order) == pytest.approx(prob)
        assert prefix[order] == pytest.approx(prob)
    assert prefix.sum() == pytest.approx(1.0)
    assert prefix[0, 0, 1] == 0.0  # a horse cannot finish twice


def test_three_runner_top_two_by_hand():
    # horse 0 is in the first two: wins (0.5) or second behind 1 (3/14) or behind 2 (0.125)
    expected = [0.5 + 3 / 14 + 0.125, 0.3 + 0.3 + 0.075, 0.2 + 0.2 + 3 / 35]
    assert f.top_k_probabilities(P3, 2) == pytest.approx(expected)
    # Couplé gagnant 0-1, any order: 0.3 + 3/14
    (rank,) = f.bet_probabilities(P3, "COUPLE_GAGNANT", [0, 1], lambdas=f.HARVILLE)
    assert rank.paid.probability == pytest.approx(0.3 + 3 / 14)
    assert rank.paid.method == "exact" and rank.paid.std_error == 0.0
    (ordered,) = f.bet_probabilities(P3, "COUPLE_ORDRE", [1, 0], lambdas=f.HARVILLE)
    assert ordered.paid.probability == pytest.approx(3 / 14)


def test_three_runner_discount_for_second_place_by_hand():
    # λ_2 = 0.5: second place among the others with strengths √p. 0 wins (0.5) then 1 beats 2 with
    # √0.3 / (√0.3 + √0.2).
    lam = (1.0, 0.5)
    second = math.sqrt(0.3) / (math.sqrt(0.3) + math.sqrt(0.2))
    assert f.ordered_probability(P3, [0, 1], lam) == pytest.approx(0.5 * second)
    # 2 wins (0.2), then 0 beats 1 with √0.5 / (√0.5 + √0.3)
    assert f.ordered_probability(P3, [2, 0], lam) == pytest.approx(
        0.2 * math.sqrt(0.5) / (math.sqrt(0.5) + math.sqrt(0.3))
    )
    # the win probabilities are untouched by the discount
    assert f.top_k_probabilities(P3, 1, lam) == pytest.approx(P3)
    # the favourite's chance of second shrinks against Harville, the outsider's grows
    harville = f.top_k_probabilities(P3, 2)
    discounted = f.top_k_probabilities(P3, 2, lam)
    assert discounted[0] < harville[0] and discounted[2] > harville[2]
    assert discounted.sum() == pytest.approx(2.0)


# ---- four runners: Simple placé pays two, Trio, the field-size rules ------------------------------


def test_four_runner_place_pays_first_two_by_hand():
    # horse 3 (p 0.1): first 0.1, or second behind j with p_j · 0.1/(1 - p_j)
    second = 0.4 * 0.1 / 0.6 + 0.3 * 0.1 / 0.7 + 0.2 * 0.1 / 0.8
    p_place = f.place_probabilities(P4, lambdas=f.HARVILLE)
    assert p_place[3] == pytest.approx(0.1 + second)
    assert p_place.sum() == pytest.approx(2.0)  # 4 to 7 starters: two places paid


def test_four_runner_trio_by_hand():
    members = [0, 1, 2]
    by_hand = sum(harville_by_hand(P4, perm) for perm in itertools.permutations(members))
    (rank,) = f.bet_probabilities(P4, "TRIO", members, lambdas=f.HARVILLE)
    assert rank.paid.probability == pytest.approx(by_hand)
    # 0.4·(0.3/0.6)·(0.2/0.3) for the first permutation alone
    assert f.ordered_probability(P4, [0, 1, 2]) == pytest.approx(0.4 * 0.5 * (0.2 / 0.3))


def test_place_probabilities_by_race_take_each_field_apart():
    ids = ["a"] * 4 + ["b"] * 3
    out = f.place_probabilities_by_race(ids, np.r_[P4, P3], lambdas=f.HARVILLE)
    assert out[:4] == pytest.approx(f.place_probabilities(P4, lambdas=f.HARVILLE))
    assert np.isnan(out[4:]).all()


def test_field_size_rules():
    assert [simple_place_places(n) for n in (3, 4, 7, 8, 16)] == [0, 2, 2, 3, 3]
    assert np.isnan(f.place_probabilities(P3)).all()  # no place pool under 4 starters
    eight = np.full(8, 1 / 8)
    assert f.place_probabilities(eight, lambdas=f.HARVILLE) == pytest.approx(np.full(8, 3 / 8))
    with pytest.raises(ValueError, match="8 starters"):
        f.bet_probabilities(P4, "COUPLE_PLACE", [0, 1])
    with pytest.raises(ValueError, match="5 starters"):
        f.bet_probabilities(P4, "DEUX_SUR_QUATRE", [0, 1])
    with pytest.raises(ValueError, match="takes 2 horses"):
        f.bet_probabilities(P4, "COUPLE_GAGNANT", [0])
    with pytest.raises(ValueError, match="twice"):
        f.bet_probabilities(P4, "COUPLE_GAGNANT", [1, 1])
    with pytest.raises(ValueError, match="unknown bet type"):
        bet_rule("PICK9")


# ---- Monte Carlo agrees with the exact sums --------------------------------------------------------


def test_monte_carlo_matches_exact_within_its_standard_error():
    p = np.random.default_rng(3).dirichlet(np.full(9, 2.0))
    lam = (1.0, 0.8, 0.7, 0.65, 0.6)
    combination = [int(i) for i in np.argsort(-p)[:5]]
    exact = f.bet_probabilities(p, "QUINTE_PLUS", combination, lambdas=lam)
    mc = f.bet_probabilities(p, "QUINTE_PLUS", combination, lambdas=lam, max_exact=0, n_samples=200_000)
    assert [r.paid.method for r in exact] == ["exact"] * 4
    assert [r.paid.method for r in mc][1:] == ["monte_carlo"] * 3
    for e, m in zip(exact, mc, strict=True):
        assert abs(e.paid.probability - m.paid.probability) <= 4 * m.paid.std_error + 1e-12
    # the exclusive ranks never exceed their events, and the seed fixes the draw
    again = f.bet_probabilities(p, "QUINTE_PLUS", combination, lambdas=lam, max_exact=0, n_samples=200_000)
    assert [r.paid.probability for r in again] == [r.paid.probability for r in mc]
    assert all(r.paid.probability <= r.event.probability + 1e-12 for r in exact)


def test_big_quinte_uses_monte_carlo_with_an_error():
    p = np.random.default_rng(0).dirichlet(np.ones(16))
    ranks = f.bet_probabilities(p, "QUINTE_PLUS", [0, 1, 2, 3, 4], n_samples=50_000)
    desordre = ranks[1].paid
    assert desordre.method == "monte_carlo" and desordre.n_samples == 50_000
    assert desordre.std_error == pytest.approx(
        math.sqrt(desordre.probability * (1 - desordre.probability) / 50_000)
    )


# ---- fitting the discounts recovers the law that drew the orders -----------------------------------


def test_fit_discounts_recovers_the_simulating_exponents():
    rng = np.random.default_rng(11)
    truth = (1.0, 0.7, 0.55)
    p_races, orders = [], []
    for _ in range(4000):
        p = rng.dirichlet(np.full(int(rng.integers(6, 14)), 1.2))
        p_races.append(p)
        orders.append(list(f.sample_orders(p, 3, truth, 1, rng)[0]))
    fitted = f.fit_discounts(p_races, orders, places=3)
    assert fitted[0] == 1.0
    assert fitted[1] == pytest.approx(0.7, abs=0.05)
    assert fitted[2] == pytest.approx(0.55, abs=0.05)
    harville_orders = [list(f.sample_orders(p, 3, f.HARVILLE, 1, rng)[0]) for p in p_races]
    assert f.fit_discounts(p_races, harville_orders, places=3)[1] == pytest.approx(1.0, abs=0.05)


def test_strict_prefix_stops_at_a_dead_heat():
    assert f.strict_prefix([2, 1, None, 3]) == [1, 0, 3]
    assert f.strict_prefix([1, 2, 2, 4]) == [0]  # dead heat for second
    assert f.strict_prefix([None, None]) == []


# ---- dead heats as the règlement lists the payable combinations -----------------------------------


def _wins(code, label, combination, places, starters=None):
    rule = bet_rule(code)
    return f.winning_payout(rule, rule.payout(label), combination, places, starters or len(places))


def test_dead_heats():
    # 8 starters, dead heat for third: four horses placed
    places = [1, 2, 3, 3, 5, 6, 7, 8]
    assert [_wins("SIMPLE_PLACE", "Simple placé", [i], places) for i in range(8)] == [True] * 4 + [False] * 4
    # 6 starters (two places), dead heat for first: both first placed, the third not
    places6 = [1, 1, 3, 4, 5, 6]
    assert [_wins("SIMPLE_PLACE", "Simple placé", [i], places6) for i in range(3)] == [True, True, False]
    # Couplé ordre, two at first: both permutations pay
    assert _wins("COUPLE_ORDRE", "Couplé ordre", [0, 1], places6)
    assert _wins("COUPLE_ORDRE", "Couplé ordre", [1, 0], places6)
    assert not _wins("COUPLE_ORDRE", "Couplé ordre", [0, 2], places6)
    # 2sur4, three at first and two at fourth: firsts together, a first with a fourth, never two fourths
    dh = [1, 1, 1, 4, 4, 6, 7, 8]
    assert _wins("DEUX_SUR_QUATRE", "2sur4", [0, 1], dh)
    assert _wins("DEUX_SUR_QUATRE", "2sur4", [2, 4], dh)
    assert not _wins("DEUX_SUR_QUATRE", "2sur4", [3, 4], dh)
    # 2sur4, two at first and two at third: the thirds together pay
    assert _wins("DEUX_SUR_QUATRE", "2sur4", [2, 3], [1, 1, 3, 3, 5, 6, 7, 8])


# ---- the one table against real rapports bodies ---------------------------------------------------


def _arrival_04112025(bodies) -> list[int]:
    quinte = next(b for b in bodies if b["typePari"] == "QUINTE_PLUS")
    ordre = next(r for r in quinte["rapports"] if r["libelle"] == "Ordre")
    return [int(x) for x in ordre["combinaison"].split("-")]


def _arrival_05112025(shared_pmu) -> tuple[list[int], int]:
    programme = json.loads((shared_pmu / "replay" / "05112025.json").read_text())
    meeting = next(m for m in programme["programme"]["reunions"] if m["numOfficiel"] == 1)
    race = next(c for c in meeting["courses"] if c["numOrdre"] == 1)
    body = json.loads((shared_pmu / "replay" / "05112025" / "R1" / "C1" / "participants.json").read_text())
    starters = sum(1 for p in body["participants"] if p.get("statut") != "NON_PARTANT")
    return [group[0] for group in race["ordreArrivee"]], starters


def expected_rows(code: str, label: str, arrival: list[int], starters: int) -> set:
    """The combinations a label pays, from the table: every `hits`-subset of the first `top`."""
    payout = bet_rule(code).payout(label)
    first = arrival[: payout_top(payout, starters)]
    if payout.ordered:
        return {tuple(first)}
    return {frozenset(c) for c in itertools.combinations(first, payout.hits)}


@pytest.mark.parametrize("day", ["04112025", "05112025"])
def test_bet_rules_match_the_real_rapports(shared_pmu, day):
    bodies = json.loads((shared_pmu / "replay" / day / "R1" / "C1" / "rapports-definitifs.json").read_text())
    if day == "04112025":
        arrival, starters = _arrival_04112025(bodies), 16  # the Quinté's horse 16 ran: 16 declared at least
    else:
        arrival, starters = _arrival_05112025(shared_pmu)
    seen = set()
    for bet in bodies:
        code = bet["typePari"]
        assert code in BET_RULES, code
        rule = BET_RULES[code]
        assert starters >= rule.min_starters
        by_label: dict[str, set] = {}
        for row in bet["rapports"]:
            combination = [int(x) for x in row["combinaison"].split("-")]
            payout = rule.payout(row["libelle"])
            assert len(combination) == payout.hits
            key = tuple(combination) if payout.ordered else frozenset(combination)
            by_label.setdefault(row["libelle"], set()).add(key)
            if code == "MULTI":  # "Multi en n": n horses in a combination, 4..7
                n = int(row["libelle"].rsplit(" ", 1)[1])
                assert rule.min_horses <= n <= rule.max_horses
        for label, rows in by_label.items():
            assert rows == expected_rows(code, label, arrival, starters), (code, label)
        # every rank the table knows is in the body (Multi: one row per size)
        assert {p.label for p in rule.payouts} <= set(by_label) | {"Multi en {n}"}
        seen.add(code)
    if day == "04112025":
        assert len(seen) == 9 and {"TIERCE", "QUARTE_PLUS", "QUINTE_PLUS"} <= seen
