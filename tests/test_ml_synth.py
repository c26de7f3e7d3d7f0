"""ml/ on synthetic days through the real pipeline: synth -> replay server (HTTP) -> extract ->
dbt (core + feature marts) -> walk-forward training, the registry, scoring, the accuracy mart.

One warehouse is built per module (about a minute): the last day is first landed as its morning
snapshot only, so the point-in-time test can compare its features before and after its results."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import psycopg2
import pytest

from ml import metrics, registry
from ml.dataset import load_dataset, load_scoring_frame
from ml.evaluate import evaluate_predictions, walk_forward_predict
from ml.frames import feature_columns
from ml.leakage import leaky_features
from ml.models import WinModel
from ml.scoring import read_predictions, score_day
from ml.truth import attach_truth, load_truth
from pipeline.build import build, build_feature_marts
from pipeline.land import ReplayPass, land_replayed
from pmu_core.facts import PARIS
from pmu_core.settings import PROJECT_ROOT
from synth import generate

pytestmark = pytest.mark.slow

START = dt.date(2025, 3, 3)
DAYS = 30
LAST = START + dt.timedelta(days=DAYS - 1)
TRAIN_DAYS = 22


@pytest.fixture(scope="module")
def warehouse(databases, tmp_path_factory):
    """(db url, synthetic root, features of the last day before its results landed)."""
    root = tmp_path_factory.mktemp("synth")
    generate(START, LAST, root, seed=5, meetings_per_day=3)
    name, url = databases.create()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PMU_DATABASE_URL", url)
        mp.setenv("PMU_HOME", str(tmp_path_factory.mktemp("pmu_home")))
        days = [START + dt.timedelta(days=i) for i in range(DAYS)]
        land_replayed([ReplayPass(root / "morning"), ReplayPass(root)], days[:-1], url)
        land_replayed([ReplayPass(root / "morning")], days[-1:], url)
        build_feature_marts(url)
        before = load_scoring_frame(url, LAST)
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute(
                "select num_pmu, race_id, final_odds from marts.fct_runner_result where race_date = %s",
                (LAST,),
            )
            odds_before = pd.DataFrame(cur.fetchall(), columns=["num_pmu", "race_id", "final_odds"])
        land_replayed([ReplayPass(root)], days[-1:], url)
        build_feature_marts(url)
        yield url, root, before, odds_before
    databases.drop(name)


@pytest.fixture(scope="module")
def held_out(warehouse):
    url, root, *_ = warehouse
    frame = attach_truth(load_dataset(url, START, LAST), load_truth(root / "truth"))
    preds, folds, model = walk_forward_predict(
        frame, lambda: WinModel(kind="lgbm", n_folds=4), min_train_days=TRAIN_DAYS, test_days=4
    )
    return preds, folds, model, evaluate_predictions(preds, n_boot=500)


def test_walk_forward_trains_on_the_past_only(held_out):
    _, folds, _, result = held_out
    assert len(folds) == 2
    for fold in folds:
        assert fold["train_end"] < fold["test_start"]
    assert result["dates"]["first"] == str(START + dt.timedelta(days=TRAIN_DAYS))
    assert result["races"] > 150


def test_trained_model_beats_a_model_that_ignores_features(held_out):
    preds, _, _, result = held_out
    preds = preds.sort_values(["race_id", "num_pmu"]).reset_index(drop=True)
    uniform = 1.0 / preds.groupby("race_id")["num_pmu"].transform("size").to_numpy()
    starts = np.flatnonzero(np.r_[True, preds.race_id.to_numpy()[1:] != preds.race_id.to_numpy()[:-1]])
    gain = metrics.delta_r2_with_ci(
        preds["p_model"].to_numpy(), uniform, preds["target"].to_numpy(), starts, n_boot=500
    )
    assert gain["ci_low"] > 0
    assert result["model"]["pseudo_r2"] > 0.03


def test_combined_model_beats_the_market_on_held_out_races(held_out):
    _, _, model, result = held_out
    delta = result["delta_r2_combined_vs_market"]
    assert delta["value"] > 0
    assert result["combined"]["log_loss"] < result["market"]["log_loss"]
    assert model.combiner[0] > 0  # the second stage gives the model a positive weight
    # The truth is known here: the combined model closes part of the market's gap to it.
    assert result["attainable_gain"] > 0
    assert result["truth"]["log_loss"] < result["market"]["log_loss"]


def test_scoring_twice_leaves_the_same_rows_and_feeds_the_accuracy_mart(warehouse):
    url, *_ = warehouse
    train_end = LAST - dt.timedelta(days=1)
    model = WinModel(name="synth", kind="lgbm", n_folds=3).fit(load_dataset(url, START, train_end))
    record = registry.register(url, model)
    registry.promote(url, record.label)
    # published as the morning run would have (08:00, after the morning odds it scores): the mart
    # judges the last publication before each start, and a run today (after them) would not count
    served = pd.to_datetime(load_scoring_frame(url, LAST)["mkt_served_at"], utc=True).max()
    morning = max(dt.datetime.combine(LAST, dt.time(8, 0), PARIS), served + dt.timedelta(minutes=5))
    score_day(url, LAST, trigger="morning", scored_at=morning)
    first = read_predictions(url, LAST).drop(columns=["scored_at"])
    score_day(url, LAST, trigger="morning", scored_at=morning)
    second = read_predictions(url, LAST).drop(columns=["scored_at"])
    assert len(first) > 0 and first.equals(second)
    np.testing.assert_allclose(first.groupby("race_id")["probability"].sum(), 1.0, atol=1e-9)

    build(url, select=("+ml_model_daily_accuracy",), command="run")  # with marts.race: the starts
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "select races, log_loss, hit_rate, value_bets from marts.ml_model_daily_accuracy"
            " where model_id = %s and race_date = %s",
            (record.id, LAST),
        )
        races, log_loss, hit_rate, value_bets = cur.fetchone()
        assert isinstance(log_loss, float)
        cur.execute(
            "select race_id, num_pmu, is_winner from marts.fct_runner_result where race_date = %s"
            " and not is_non_runner",
            (LAST,),
        )
        results = pd.DataFrame(cur.fetchall(), columns=["race_id", "num_pmu", "is_winner"])
    # Recomputed here from the published rows and the results, runner by runner.
    joined = first.merge(results, on=["race_id", "num_pmu"])
    decided = joined.groupby("race_id").filter(lambda race: race.is_winner.any())
    # A k-way dead heat counts the mean of -ln p over its winners.
    losses = [-np.mean(np.log(race.probability[race.is_winner])) for _, race in decided.groupby("race_id")]
    hits = [bool(race.is_winner[race["rank"] == 1].any()) for _, race in decided.groupby("race_id")]
    assert races == decided.race_id.nunique()
    assert log_loss == pytest.approx(np.mean(losses), rel=1e-9)
    assert hit_rate == pytest.approx(np.mean(hits))
    assert value_bets == int((decided.edge > 0.05).sum())


def test_a_post_race_column_is_caught_by_the_point_in_time_check(warehouse):
    url, _, before, odds_before = warehouse
    after = load_scoring_frame(url, LAST)
    # The real feature columns do not move when the results land ...
    assert leaky_features(before, after, feature_columns(before)) == []
    # ... but a model fed the runner's final odds from the results mart would be: it changes.
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "select num_pmu, race_id, final_odds from marts.fct_runner_result where race_date = %s", (LAST,)
        )
        odds_after = pd.DataFrame(cur.fetchall(), columns=["num_pmu", "race_id", "final_odds"])
    fed_before = before.merge(
        odds_before.rename(columns={"final_odds": "f_closing_price"}), on=["race_id", "num_pmu"]
    )
    fed_after = after.merge(
        odds_after.rename(columns={"final_odds": "f_closing_price"}), on=["race_id", "num_pmu"]
    )
    assert leaky_features(fed_before, fed_after, ["f_closing_price", "f_age"]) == ["f_closing_price"]


def test_accuracy_mart_builds_without_the_modeling_tables_and_reads_them_once_they_exist(db_url):
    """The modeling DDL exists once (ml/schema.sql): the mart builds empty before any model was
    registered, and reads the publications once ml has created them."""

    def rows(statement: str, params: tuple = ()) -> list[tuple]:
        with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []

    rows((PROJECT_ROOT / "extract" / "schema.sql").read_text())
    build(db_url, select=("+ml_model_daily_accuracy",), command="run")
    assert rows("select to_regclass('modeling.published_predictions')") == [(None,)]
    assert rows("select count(*) from marts.ml_model_daily_accuracy") == [(0,)]

    registry.ensure_tables(db_url)
    ((model_id,),) = rows(
        "insert into modeling.models (name, version, kind, feature_hash, features, params, artifact_path)"
        " values ('m', 1, 'test', 'h', '[]', '{}', '/nowhere') returning id"
    )
    race = ("2025-11-05-R1-C1", dt.date(2025, 11, 5))
    start = dt.datetime(2025, 11, 5, 14, 0, tzinfo=PARIS)
    rows("insert into marts.race (race_id, race_date, race_start_at) values (%s, %s, %s)", (*race, start))
    ((publication_id,),) = rows(
        "insert into modeling.publications (model_id, model_name, model_version, race_date, published_at,"
        " trigger, races, runners) values (%s, 'm', 1, %s, %s, 'morning', 1, 2) returning publication_id",
        (model_id, race[1], start - dt.timedelta(hours=6)),
    )
    rows(
        "insert into modeling.published_predictions (publication_id, race_id, num_pmu, probability, rank,"
        " fair_odds, market_odds, edge) values (%s, %s, 1, 0.6, 1, 1.67, 2.0, 0.2),"
        " (%s, %s, 2, 0.4, 2, 2.5, 2.0, -0.2)",
        (publication_id, race[0], publication_id, race[0]),
    )
    rows(
        "insert into marts.fct_runner_result (race_id, race_date, num_pmu, horse_key, has_result,"
        " is_non_runner, finish_place, is_winner, is_placed, final_odds)"
        " values (%s, %s, 1, 'a', true, false, 1, true, true, 2.0),"
        " (%s, %s, 2, 'b', true, false, 2, false, true, 2.0)",
        (*race, *race),
    )
    build(db_url, select=("ml_model_daily_accuracy",), command="run")
    # one race, the top pick won, one value bet (edge 0.2 > 5%) paid 2.0 for 1: profit 1.0
    assert rows(
        "select model_id, races, hit_rate, value_bets, value_bet_profit from marts.ml_model_daily_accuracy"
    ) == [(model_id, 1, 1.0, 1, 1.0)]


def test_morning_cutoff_reads_the_odds_of_the_last_body_served_before_the_local_time(warehouse):
    """cutoff="morning": the market of each race is the one of its latest participants body served
    before 10:30 Paris, here recomputed from the landed bodies themselves in Python."""
    url, *_ = warehouse
    day = START + dt.timedelta(days=3)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "select meeting_num, race_num, served_at, body from raw.pmu_participants"
            " where race_date = %s and http_status = 200",
            (day,),
        )
        bodies = cur.fetchall()
    cut = dt.datetime.combine(day, dt.time(10, 30), tzinfo=PARIS)
    latest: dict[str, tuple] = {}
    for meeting, race, served_at, body in bodies:
        race_id = f"{day.isoformat()}-R{meeting}-C{race}"
        if served_at < cut and (race_id not in latest or served_at > latest[race_id][0]):
            latest[race_id] = (served_at, body)
    expected = {
        (race_id, runner["numPmu"]): float(runner["dernierRapportDirect"]["rapport"])
        for race_id, (_, body) in latest.items()
        for runner in body["participants"]
        if (runner.get("dernierRapportDirect") or {}).get("rapport") is not None
    }
    morning = load_dataset(url, day, day, cutoff="morning", ratings=False)
    got = {(row.race_id, row.num_pmu): row.mkt_odds for row in morning.itertuples() if pd.notna(row.mkt_odds)}
    assert got and got == {key: expected[key] for key in got}
    assert len(got) >= 0.9 * len(expected)
    # the day's later (final) bodies carry other odds, so ignoring the cut-off would fail this test
    final = {}
    for meeting, race, _served_at, body in sorted(bodies, key=lambda b: b[2]):
        for runner in body["participants"]:
            final[(f"{day.isoformat()}-R{meeting}-C{race}", runner["numPmu"])] = (
                runner.get("dernierRapportDirect") or {}
            ).get("rapport")
    assert any(final[key] is not None and float(final[key]) != odds for key, odds in got.items())
