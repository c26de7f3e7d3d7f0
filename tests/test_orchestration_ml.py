"""The ML assets (orchestration/ml_assets.py) on synthetic days through the real pipeline:
synth -> replay server (HTTP) -> extract -> dbt feature marts, then `modeling/model`,
`modeling/evaluation` and `modeling/predictions` materialised in-process by Dagster against a
real PostgreSQL; plus the pure helpers behind the checks and the odds re-scoring."""

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import psycopg2
import pytest

import orchestration
from ml.metrics import calibration_verdict
from ml.scoring import moved_races
from orchestration.automation import ODDS_RUN_CONFIG
from orchestration.ml_assets import EVALUATION_KEY, MODEL_KEY, PREDICTIONS_KEY, evaluation, model, predictions
from orchestration.resources import PostgresResource
from pipeline.build import build_feature_marts
from pipeline.land import ReplayPass, land_replayed
from pipeline.modeling import should_promote

START = dt.date(2025, 3, 3)
DAYS = 30
TRAIN_END = START + dt.timedelta(days=22)  # the model sees days 0..22; days 23..29 are scored
LAST = START + dt.timedelta(days=DAYS - 1)


# --- pure helpers ---------------------------------------------------------------------------------


def _races(rng, n_races: int, p_of):
    """Races of 8 runners whose winner is drawn from the true probabilities; p_of maps the truth
    to what a model would publish."""
    rows = []
    for r in range(n_races):
        truth = rng.dirichlet(np.ones(8) * 0.7)
        winner = rng.choice(8, p=truth)
        published = p_of(truth)
        rows += [(f"R{r}", published[i], float(i == winner)) for i in range(8)]
    return pd.DataFrame(rows, columns=["race_id", "p", "won"])


def test_calibration_verdict_passes_true_probabilities_and_fails_reversed_ones():
    rng = np.random.default_rng(3)
    good = _races(rng, 600, lambda t: t)
    verdict = calibration_verdict(good.p, good.won, good.race_id)
    assert verdict["passed"], verdict["reason"]
    assert verdict["races"] == 600 and verdict["pseudo_r2"] > 0

    # the favourite gets the longshot's probability and vice versa: far worse than uniform
    reversed_ = _races(rng, 600, lambda t: np.sort(t)[np.argsort(np.argsort(-t))])
    verdict = calibration_verdict(reversed_.p, reversed_.won, reversed_.race_id)
    assert not verdict["passed"]
    assert verdict["pseudo_r2"] < 0 and "worse than uniform" in verdict["reason"]

    # overconfident: the right order, but too sharp (p ∝ truth^3): deciles miss their win rates
    sharp = _races(rng, 600, lambda t: t**3 / np.sum(t**3))
    assert not calibration_verdict(sharp.p, sharp.won, sharp.race_id)["passed"]


def test_calibration_verdict_does_not_judge_too_few_races():
    rng = np.random.default_rng(4)
    few = _races(rng, 40, lambda t: np.roll(t, 1))
    verdict = calibration_verdict(few.p, few.won, few.race_id)
    assert verdict["passed"] and verdict["races"] == 40 and "too little data" in verdict["reason"]
    # undecided races (no winner yet) do not count
    undecided = few.assign(won=0.0)
    assert calibration_verdict(undecided.p, undecided.won, undecided.race_id)["races"] == 0


def test_moved_races_are_changed_odds_new_snapshots_changed_fields_and_unscored_races():
    t0, t1 = pd.Timestamp("2025-03-03 10:00", tz="UTC"), pd.Timestamp("2025-03-03 10:05", tz="UTC")
    scored = pd.DataFrame(
        {
            "race_id": ["A", "A", "B", "B", "C", "C", "D", "D"],
            "num_pmu": [1, 2, 1, 2, 1, 2, 1, 2],
            "market_odds": [2.5, 4.0, 3.0, 3.0, 5.0, 1.5, np.nan, np.nan],
            "market_served_at": [t0, t0, t0, t0, t0, t0, pd.NaT, pd.NaT],
        }
    )
    current = pd.DataFrame(
        {
            "race_id": ["A", "A", "B", "B", "C", "D", "D", "E"],
            "num_pmu": [1, 2, 1, 2, 1, 1, 2, 1],
            "mkt_odds": [2.5, 4.0, 3.0, 3.2, 5.0, np.nan, np.nan, 2.0],
            "mkt_served_at": [t0, t0, t0, t1, t0, pd.NaT, pd.NaT, t1],
        }
    )
    # A unchanged; B's odds moved; C lost a runner (withdrawn); D unpriced both times; E never scored
    assert moved_races(current, scored) == ["B", "C", "E"]
    assert moved_races(current, scored.iloc[:0]) == ["A", "B", "C", "D", "E"]


def test_promotion_rule():
    assert should_promote(None, has_production=False) is True
    assert should_promote(None, has_production=True) is False
    assert should_promote(True, has_production=True) is True
    assert should_promote(False, has_production=False) is False


# --- definitions ----------------------------------------------------------------------------------


def test_lineage_reads_raw_to_features_to_model_to_predictions_and_jobs_score_after_dbt():
    defs = orchestration.defs
    graph = defs.resolve_asset_graph()
    features = dg.AssetKey(["marts", "feat_runner_pre_race"])
    if features not in graph.get_all_asset_keys():
        pytest.skip("the dbt project has no feature marts")
    assert graph.get(MODEL_KEY).parent_keys >= {features, dg.AssetKey(["marts", "fct_runner_result"])}
    assert graph.get(PREDICTIONS_KEY).parent_keys >= {features, MODEL_KEY}
    assert EVALUATION_KEY in graph.get(MODEL_KEY).child_keys
    assert graph.get(PREDICTIONS_KEY).partitions_def == graph.get(features).partitions_def
    assert graph.get(MODEL_KEY).partitions_def is None
    # the dbt accuracy mart reads modeling.predictions: it is downstream of this asset
    assert dg.AssetKey(["marts", "ml_model_daily_accuracy"]) in graph.get(PREDICTIONS_KEY).child_keys

    morning = defs.resolve_job_def("morning_job").asset_layer.executable_asset_keys
    assert PREDICTIONS_KEY in morning and features in morning and MODEL_KEY not in morning
    # the morning run measures the drift of what it just scored
    drift_key = dg.AssetKey(["modeling", "feature_drift"])
    assert drift_key in graph.get(PREDICTIONS_KEY).child_keys and drift_key in morning
    odds = defs.resolve_job_def("odds_snapshot_job").asset_layer.executable_asset_keys
    assert {PREDICTIONS_KEY, features, dg.AssetKey(["raw", "pmu_participants"])} <= odds
    assert dg.AssetKey(["marts", "horse"]) not in odds  # only the path to the feature mart
    training = defs.resolve_job_def("training_job").asset_layer.executable_asset_keys
    assert set(training) == {MODEL_KEY, EVALUATION_KEY}


# --- in-process, on a synthetic warehouse ----------------------------------------------------------


def _rows(db_url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def _checks(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def _check_metadata(result, name: str) -> dict:
    event = next(e for e in result.get_asset_check_evaluations() if e.check_name == name)
    return {k: v.value for k, v in event.metadata.items()}


@pytest.mark.slow
def test_the_dagster_job_trains_and_scores_in_process(db_url, tmp_path):
    from synth import generate

    root = tmp_path / "synth"
    generate(START, LAST, root, seed=11, meetings_per_day=3)
    days = [START + dt.timedelta(days=i) for i in range(DAYS)]
    land_replayed([ReplayPass(root / "morning"), ReplayPass(root)], days, db_url)
    build_feature_marts(db_url)

    resources = {"postgres": PostgresResource(url=db_url)}
    scored_days = (TRAIN_END + dt.timedelta(days=1), LAST)
    with dg.instance_for_test() as instance:
        # no production model yet: the step succeeds (the marts downstream of its key still build)
        # and every_race_scored fails, saying why
        unscored = dg.materialize(
            [predictions], partition_key=LAST.isoformat(), resources=resources, instance=instance
        )
        assert unscored.success and _checks(unscored) == {
            "probabilities_sum_to_one": True,
            "every_race_scored": False,
            "publication_covers_races": False,
            "calibrated_last_30_days": True,
        }
        assert "production model" in _check_metadata(unscored, "every_race_scored")["reason"]
        assert _check_metadata(unscored, "every_race_scored")["races_to_score"] > 0
        assert _rows(db_url, "select count(*) from modeling.predictions")[0][0] == 0

        # train (promoted: the first model of its name), evaluate, and score the 7 days after the
        # training window in one single-run backfill
        trained = dg.materialize(
            [model, evaluation, predictions],
            resources=resources,
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": scored_days[0].isoformat(),
                "dagster/asset_partition_range_end": scored_days[1].isoformat(),
            },
            run_config={
                "ops": {
                    "modeling__model": {"config": {"end": TRAIN_END.isoformat(), "n_folds": 3}},
                    "modeling__evaluation": {
                        "config": {
                            "min_train_days": 16,
                            "test_days": 4,
                            "n_boot": 200,
                            "truth_dir": str(root / "truth"),
                        }
                    },
                }
            },
        )
        assert trained.success
        models = _rows(db_url, "select id, name, version, status, train_end from modeling.models")
        assert len(models) == 1
        model_id, name, version, status, train_end = models[0]
        assert (name, version, status, train_end) == ("win_lgbm", 1, "production", TRAIN_END)

        meta = {
            m.asset_key: m.materialization.metadata
            for m in (e for e in trained.get_asset_materialization_events())
        }
        assert meta[MODEL_KEY]["model"].value == "win_lgbm@1"
        assert meta[MODEL_KEY]["feature_count"].value == len(meta[MODEL_KEY]["features"].value) > 5
        assert "data:image/png;base64," in meta[MODEL_KEY]["feature_importance"].value
        assert meta[EVALUATION_KEY]["held_out_races"].value > 100
        assert "attainable_gain" in meta[EVALUATION_KEY]
        stored = _rows(db_url, "select metrics -> 'evaluation' ->> 'races' from modeling.models")[0][0]
        assert int(stored) == meta[EVALUATION_KEY]["held_out_races"].value

        # predictions for every race of the scored days that has runners, each race summing to 1
        expected = {
            r[0]
            for r in _rows(
                db_url,
                "select distinct race_id from marts.race_participant where race_date between %s and %s",
                scored_days,
            )
        }
        sums = dict(
            _rows(
                db_url,
                "select race_id, sum(probability) from modeling.predictions"
                " where model_id = %s group by race_id",
                (model_id,),
            )
        )
        assert set(sums) == expected and len(expected) > 100
        np.testing.assert_allclose(list(sums.values()), 1.0, atol=1e-9)
        assert meta[PREDICTIONS_KEY]["days"].value == 7
        assert _checks(trained) == {
            "probabilities_sum_to_one": True,
            "every_race_scored": True,
            "publication_covers_races": True,
            "calibrated_last_30_days": True,
        }
        assert _check_metadata(trained, "publication_covers_races")["coverage"] == 1.0
        calibration = _check_metadata(trained, "calibrated_last_30_days")
        assert calibration["decided_races"] == len(expected)  # judged on the out-of-sample days
        assert calibration["verdict"] == "within bounds"

        # scoring the last day again (the morning run's step alone) leaves the same rows
        query = (
            "select race_id, num_pmu, probability, rank, market_odds, edge from modeling.predictions"
            " where race_date = %s order by 1, 2"
        )
        before = _rows(db_url, query, (LAST,))
        again = dg.materialize(
            [predictions],
            partition_key=LAST.isoformat(),
            resources=resources,
            instance=instance,
            selection=[PREDICTIONS_KEY],
            tags={"dagster/schedule_name": "morning_schedule"},  # as the morning schedule's run
        )
        assert again.success and _rows(db_url, query, (LAST,)) == before
        assert all(_checks(again).values())

        # an odds refresh moved one runner's price in the feature mart: the odds run re-scores
        # that race only
        race_id, num_pmu = before[0][0], before[0][1]
        with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
            cur.execute(
                "update marts.feat_runner_pre_race set mkt_odds = mkt_odds * 2,"
                " mkt_served_at = mkt_served_at + interval '5 minutes'"
                " where race_id = %s and num_pmu = %s",
                (race_id, num_pmu),
            )
        stamps = dict(
            _rows(
                db_url,
                "select race_id, max(scored_at) from modeling.predictions where race_date = %s group by 1",
                (LAST,),
            )
        )
        odds_run = dg.materialize(
            [predictions],
            partition_key=LAST.isoformat(),
            resources=resources,
            instance=instance,
            run_config=ODDS_RUN_CONFIG,
        )
        assert odds_run.success
        after = dict(
            _rows(
                db_url,
                "select race_id, max(scored_at) from modeling.predictions where race_date = %s group by 1",
                (LAST,),
            )
        )
        assert [race for race in after if after[race] != stamps[race]] == [race_id]
        odds_meta = odds_run.get_asset_materialization_events()[0].materialization.metadata
        assert odds_meta["races_scored"].value == 1
        changed = _rows(
            db_url,
            "select market_odds from modeling.predictions where race_date = %s"
            " and race_id = %s and num_pmu = %s",
            (LAST, race_id, num_pmu),
        )[0][0]
        assert changed == pytest.approx(2 * before[0][4])
        assert all(_checks(odds_run).values())

        # every run is a publication: the backfill's, the morning run's, the odds run's (one race)
        publications = _rows(
            db_url,
            "select trigger, races from modeling.publications where race_date = %s order by published_at",
            (LAST,),
        )
        assert [t for t, _ in publications] == ["dagster", "morning", "odds_moved"]
        assert publications[-1][1] == 1 and publications[0][1] == publications[1][1] > 1


def test_odds_sensor_requests_carry_the_moved_races_config_valid_for_its_job(db_url, shared_pmu, monkeypatch):
    import json

    import psycopg2.extras

    from orchestration import automation
    from pmu_core.settings import PROJECT_ROOT

    day = dt.date(2025, 11, 5)  # real programme: R2C1 starts at 09:30 UTC
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute((PROJECT_ROOT / "extract" / "schema.sql").read_text())
        cur.execute(
            """insert into raw.pmu_programme (race_date, client, url, http_status, fetched_at, served_at,
                                              body_sha256, extractor_version, body)
               values (%s, 1, 'programme', 200, now(), %s, repeat('0', 64), 'test', %s)""",
            (
                day,
                dt.datetime(2025, 11, 5, 8, 0, tzinfo=dt.UTC),
                psycopg2.extras.Json(json.loads((shared_pmu / "replay" / "05112025.json").read_text())),
            ),
        )
    monkeypatch.setattr(automation, "current_time", lambda: dt.datetime(2025, 11, 5, 9, 0, tzinfo=dt.UTC))
    repository = orchestration.defs.get_repository_def()
    sensor = repository.get_sensor_def("pre_race_odds_sensor")
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, repository_def=repository, resources={"postgres": PostgresResource(url=db_url)}
        )
        requests = sensor.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2025-11-05"]
    # the first tick after 08:00 Paris: every race of the day still to start is due
    assert (
        requests[0].run_config["ops"]["modeling__predictions"]
        == ODDS_RUN_CONFIG["ops"]["modeling__predictions"]
    )
    job = orchestration.defs.resolve_job_def("odds_snapshot_job")
    resolved = dg.validate_run_config(job, requests[0].run_config)["ops"]
    assert resolved["modeling__predictions"]["config"] == {"only_moved_races": True, "model": None}
    assert len(resolved["raw__pmu_participants"]["config"]["race_ids"]) == 63
