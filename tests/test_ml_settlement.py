"""Settling bets on PMU's official rows (ml/settlement.py) by hand on the real rapports of
04112025 R1C1 (arrival 16-15-7-14-1), and the order-model evaluation (ml/finishing_eval.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ml import finishing, finishing_eval
from ml.settlement import DividendRow, parse_combination, settle
from pmu_core.facts import bet_rule


@pytest.fixture(scope="module")
def rapports(shared_pmu) -> dict[str, list[DividendRow]]:
    """bet type -> rows, euros per 1 EUR = the body's dividendePourUnEuro cents / 100."""
    path = shared_pmu / "replay" / "04112025" / "R1" / "C1" / "rapports-definitifs.json"
    out = {}
    for bet in json.loads(path.read_text()):
        out[bet["typePari"]] = [
            DividendRow(r["libelle"], parse_combination(r["combinaison"]), r["dividendePourUnEuro"] / 100)
            for r in bet["rapports"]
        ]
    return out


# (bet type, combination, expected status, euros back per 1 EUR, rank paid): read off the body by hand
CASES = [
    ("SIMPLE_GAGNANT", "16", "won", 5.90, "Simple gagnant"),
    ("SIMPLE_GAGNANT", "15", "lost", 0.0, None),
    ("SIMPLE_PLACE", "7", "won", 7.30, "Simple placé"),
    ("SIMPLE_PLACE", "14", "lost", 0.0, None),  # fourth: not placed with 8+ starters
    ("COUPLE_GAGNANT", "15-16", "won", 118.60, "Couplé gagnant"),  # any order
    ("COUPLE_GAGNANT", "16-7", "lost", 0.0, None),
    ("COUPLE_PLACE", "7-15", "won", 103.60, "Couplé placé"),
    ("DEUX_SUR_QUATRE", "14-16", "won", 56.20, "2sur4"),
    ("DEUX_SUR_QUATRE", "1-16", "lost", 0.0, None),  # fifth
    ("MULTI", "1-2-7-14-15-16", "won", 422.80, "Multi en 6"),
    ("MULTI", "2-7-14-15-16", "won", 1268.40, "Multi en 5"),
    ("TIERCE", "16-15-7", "won", 4076.00, "Ordre"),
    ("TIERCE", "15-16-7", "won", 687.00, "Désordre"),
    ("QUARTE_PLUS", "16-15-7-14", "won", 13668.60, "Ordre"),
    ("QUARTE_PLUS", "7-15-16-14", "won", 1350.80, "Désordre"),
    ("QUARTE_PLUS", "16-15-7-1", "won", 162.70, "Bonus"),
    ("QUINTE_PLUS", "16-15-7-14-1", "won", 145860.30, "Ordre"),
    ("QUINTE_PLUS", "1-14-7-15-16", "won", 2295.20, "Désordre"),
    ("QUINTE_PLUS", "16-15-7-14-2", "won", 43.60, "Bonus 4sur5"),
    ("QUINTE_PLUS", "16-15-7-2-3", "won", 30.30, "Bonus 3"),
    ("QUINTE_PLUS", "16-15-2-3-4", "lost", 0.0, None),
]


@pytest.mark.parametrize(("code", "combination", "status", "back", "label"), CASES)
def test_settle_on_real_rapports_by_hand(rapports, code, combination, status, back, label):
    s = settle(bet_rule(code), parse_combination(combination), rapports[code])
    assert (s.status, s.label) == (status, label)
    assert s.return_per_eur == pytest.approx(back)


def test_refunds(rapports):
    rule = bet_rule("SIMPLE_PLACE")
    assert settle(rule, (7,), rapports["SIMPLE_PLACE"], refunded=True).status == "refunded"
    # a non-runner in Simple: the stake back
    s = settle(rule, (3,), rapports["SIMPLE_PLACE"], non_runners={3})
    assert (s.status, s.return_per_eur) == ("refunded", 1.0)
    # a Couplé with a non-runner and no row paying it: refunded
    assert settle(
        bet_rule("COUPLE_GAGNANT"), (16, 3), rapports["COUPLE_GAGNANT"], non_runners={3}
    ).status == ("refunded")


def test_dead_heat_rows_pay_each_tied_horse():
    # a dead heat for third with 8+ starters: PMU prints four Simple placé rows
    rows = [DividendRow("Simple placé", (n,), d) for n, d in ((4, 1.4), (9, 2.1), (2, 3.0), (5, 2.6))]
    assert [settle(bet_rule("SIMPLE_PLACE"), (n,), rows).return_per_eur for n in (4, 9, 2, 5, 1)] == [
        1.4,
        2.1,
        3.0,
        2.6,
        0.0,
    ]


def test_parse_combination_rejects_junk():
    with pytest.raises(ValueError):
        parse_combination("3-x")
    with pytest.raises(ValueError):
        parse_combination("0-3")


# ---- the order-model evaluation ------------------------------------------------------------------


def _races(rng, n_races: int, lambdas) -> pd.DataFrame:
    rows = []
    for r in range(n_races):
        n = int(rng.integers(8, 13))
        p = rng.dirichlet(np.full(n, 1.0))
        order = finishing.sample_orders(p, n, lambdas, 1, rng)[0]
        place = np.empty(n)
        place[order] = np.arange(1, n + 1)
        for i in range(n):
            rows.append({"race_id": f"r{r:04d}", "num_pmu": i + 1, "p": p[i], "finish_place": place[i]})
    return pd.DataFrame(rows)


@pytest.mark.slow  # three fields of 1,500 simulated races scored twice: ~15-50 s
def test_discounted_model_beats_harville_where_the_world_is_discounted():
    rng = np.random.default_rng(5)
    truth = (1.0, 0.7, 0.6)
    train, test = _races(rng, 1500, truth), _races(rng, 1500, truth)
    lam = finishing_eval.fit_on_frame(train, "p")
    assert lam[1] == pytest.approx(0.7, abs=0.06)
    result = finishing_eval.compare_order_models(test, "p", lam, n_boot=300)
    assert result["races_place"] == 1500
    assert result["delta_place_log_loss_harville_minus_discounted"]["ci_low"] > 0
    assert result["delta_top3_log_loss_harville_minus_discounted"]["ci_low"] > 0
    # in a Harville world the fit finds no discount and the two models tie
    harville_world = _races(rng, 1500, finishing.HARVILLE)
    lam_h = finishing_eval.fit_on_frame(harville_world, "p")
    assert lam_h[1] == pytest.approx(1.0, abs=0.06)


def test_returns_at_official_dividends_by_hand():
    # one race of 8, market favourites 1 and 2; the model prefers 3 for a place
    p_model = np.array([0.20, 0.15, 0.30, 0.10, 0.08, 0.07, 0.05, 0.05])
    p_market = np.array([0.30, 0.25, 0.15, 0.10, 0.08, 0.05, 0.04, 0.03])
    frame = pd.DataFrame(
        {
            "race_id": "x",
            "num_pmu": np.arange(1, 9),
            "p_combined": p_model,
            "p_market": p_market,
            "finish_place": [4, 2, 1, 3, 5, 6, 7, 8],
        }
    )
    dividends = pd.DataFrame(
        [
            ("x", "SIMPLE_PLACE", "Simple placé", "3", 1.8, False),
            ("x", "SIMPLE_PLACE", "Simple placé", "2", 1.5, False),
            ("x", "SIMPLE_PLACE", "Simple placé", "4", 2.9, False),
            ("x", "COUPLE_GAGNANT", "Couplé gagnant", "3-2", 9.0, False),
        ],
        columns=["race_id", "bet_type", "label", "combination", "dividend_per_eur", "is_refunded"],
    )
    out = finishing_eval.returns_at_dividends(frame, "p_combined", dividends, finishing.HARVILLE, n_boot=50)
    # Simple placé: the model takes 3 (paid 1.8), the favourite 1 finished fourth (0)
    assert out["SIMPLE_PLACE"]["model"]["roi"] == pytest.approx(0.8)
    assert out["SIMPLE_PLACE"]["favourites"]["roi"] == pytest.approx(-1.0)
    # Couplé gagnant: the model's most probable pair is 3-1 (lost), the favourites' 1-2 (lost)
    assert finishing_eval.best_combination(p_model, "COUPLE_GAGNANT", finishing.HARVILLE) == (0, 2)
    assert out["COUPLE_GAGNANT"]["model"]["roi"] == pytest.approx(-1.0)
    assert out["COUPLE_GAGNANT"]["races"] == 1
    assert "TRIO" not in out  # no official rows: no bet
