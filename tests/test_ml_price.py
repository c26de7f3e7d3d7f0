"""`pmu price`: a combination priced from the race's latest publication in modeling.predictions,
checked against Harville's formula worked by hand; bad input is refused with a clear error."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ml import finishing, registry
from pmu_cli.main import main
from pmu_core import db

RACE = "2025-11-05-R1-C1"
# an eight-horse field (Couplé placé needs 8 starters); horses 3 and 7 are the two favourites
FIELD = {1: 0.05, 2: 0.10, 3: 0.30, 4: 0.05, 5: 0.10, 6: 0.05, 7: 0.25, 8: 0.10}


# the place discounts the published model was trained with (registry metrics, test constants)
DISCOUNTS = [1.0, 0.8, 0.7, 0.6]


def _publish(url, name: str, probabilities: dict[int, float], scored_at: dt.datetime) -> None:
    registry.ensure_tables(url)
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute(
            "insert into modeling.models (name, version, kind, feature_hash, features, params, metrics,"
            " artifact_path) values (%s, 1, 'lgbm', 'h', '[]', '{}', %s, '/nowhere') returning id",
            (name, json.dumps({"place_discounts": DISCOUNTS})),
        )
        model_id = cur.fetchone()[0]
        for rank, (num, p) in enumerate(sorted(probabilities.items(), key=lambda kv: -kv[1]), start=1):
            cur.execute(
                "insert into modeling.predictions (model_id, model_name, model_version, race_id,"
                " race_date, num_pmu, probability, rank, fair_odds, scored_at)"
                " values (%s, %s, 1, %s, %s, %s, %s, %s, %s, %s)",
                (model_id, name, RACE, dt.date(2025, 11, 5), num, p, rank, 1 / p, scored_at),
            )


@pytest.fixture
def published(db_url, monkeypatch):
    monkeypatch.setenv("PMU_DATABASE_URL", db_url)
    old = dt.datetime(2025, 11, 5, 8, 0, tzinfo=dt.UTC)
    _publish(db_url, "old_model", {n: 1 / 8 for n in FIELD}, old)  # an earlier, uniform publication
    _publish(db_url, "win_lgbm", FIELD, old + dt.timedelta(hours=2))
    return db_url


def test_price_couple_gagnant_from_the_latest_publication_by_hand(published, capsys):
    assert (
        main(["price", "--race", RACE, "--bet", "COUPLE_GAGNANT", "--combo", "3-7", "--harville", "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    # 3 then 7: 0.30 · 0.25/0.70; 7 then 3: 0.25 · 0.30/0.75
    by_hand = 0.30 * 0.25 / 0.70 + 0.25 * 0.30 / 0.75
    (rank,) = out["ranks"]
    assert out["model"] == "win_lgbm@1"  # the latest to score the race, not the uniform one
    assert rank["probability"] == pytest.approx(by_hand)
    assert rank["fair_dividend"] == pytest.approx((1 - out["takeout"]) / by_hand)


def test_price_couple_place_discounted_prints_a_line(published, capsys):
    assert main(["price", "--race", RACE, "--bet", "COUPLE_PLACE", "--combo", "3-7"]) == 0
    text = capsys.readouterr().out
    assert "Couplé placé" in text and "fair dividend" in text
    assert main(["price", "--race", RACE, "--bet", "COUPLE_PLACE", "--combo", "3-7", "--json"]) == 0
    discounted = json.loads(capsys.readouterr().out)["ranks"][0]["probability"]
    assert (
        main(["price", "--race", RACE, "--bet", "COUPLE_PLACE", "--combo", "3-7", "--json", "--harville"])
        == 0
    )
    harville = json.loads(capsys.readouterr().out)["ranks"][0]["probability"]
    # the discount gives the outsiders more of the minor places: two favourites together less often
    assert discounted < harville
    with_discounts = finishing.bet_probabilities(
        [FIELD[n] for n in sorted(FIELD)], "COUPLE_PLACE", [2, 6], lambdas=DISCOUNTS
    )
    assert discounted == pytest.approx(with_discounts[0].paid.probability)  # the model's own discounts


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--race", "2025-11-05-R9-C9", "--bet", "COUPLE_PLACE", "--combo", "3-7"], "no published"),
        (["--race", RACE, "--bet", "COUPLE_PLACE", "--combo", "3-12"], "not in the field"),
        (["--race", RACE, "--bet", "PICK9", "--combo", "3-7"], "unknown bet type"),
        (["--race", RACE, "--bet", "TRIO", "--combo", "3-7"], "takes 3 horses"),
        (["--race", RACE, "--bet", "TRIO", "--combo", "3-x-7"], "not a combination"),
    ],
)
def test_price_refuses_bad_input(published, capsys, argv, message):
    assert main(["price", *argv]) == 2
    assert message in capsys.readouterr().err
