"""ml/ against a real PostgreSQL: datasets from the feature-mart contract, the model registry,
scoring with idempotent upserts, and the `pmu` ML commands in a subprocess.

The feature marts are written here per contract 3 from a simulated conditional-logit world, so that
these tests stand on their own; tests/test_ml_synth.py runs the real pipeline on synthetic days."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import psycopg2
import psycopg2.extras
import pytest
from PIL import Image

from ml import registry
from ml.dataset import MissingMartError, load_dataset, load_scoring_frame
from ml.models import WinModel
from ml.scoring import read_predictions, score_day
from ml.simulate import simulate_races

START = dt.date(2024, 3, 1)
N_DAYS = 24


def write_contract_marts(url: str, df) -> None:
    """marts.feat_runner_pre_race and marts.fct_runner_result as contract 3 describes them."""
    features = [c for c in df.columns if c.startswith("f_")]
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cols = ", ".join(f"{f} double precision" for f in features)
        cur.execute(f"""create table marts.feat_runner_pre_race (race_id text, race_date date,
            race_start_at timestamptz, num_pmu int, horse_key text, {cols}, mkt_odds numeric,
            mkt_implied_prob numeric, mkt_odds_rank int, mkt_served_at timestamptz)""")  # test constants
        cur.execute("""create table marts.fct_runner_result (race_id text, race_date date, num_pmu int,
            is_non_runner bool, finish_place int, is_winner bool, final_odds numeric)""")
        feat_rows, result_rows = [], []
        for r in df.itertuples(index=False):
            start_at = dt.datetime.combine(r.race_date, dt.time(14, 0), dt.UTC)
            feat_rows.append(
                (
                    r.race_id,
                    r.race_date,
                    start_at,
                    int(r.num_pmu),
                    f"h{r.race_id}{r.num_pmu}",
                    *[None if np.isnan(getattr(r, f)) else float(getattr(r, f)) for f in features],
                    float(r.mkt_odds),
                    float(r.mkt_implied_prob),
                    None,
                    start_at - dt.timedelta(hours=5),
                )
            )
            result_rows.append(
                (
                    r.race_id,
                    r.race_date,
                    int(r.num_pmu),
                    bool(r.non_runner),
                    1 if r.won else None,
                    bool(r.won),
                    float(r.final_odds),
                )
            )
        psycopg2.extras.execute_values(cur, "insert into marts.feat_runner_pre_race values %s", feat_rows)
        psycopg2.extras.execute_values(cur, "insert into marts.fct_runner_result values %s", result_rows)


@pytest.fixture
def marts(db_url):
    df = simulate_races(N_DAYS, 12, start=START, seed=11)
    # One declared non-runner per day, in the first race of the day (not the winner).
    df["non_runner"] = False
    for _day, group in df.groupby("race_date"):
        first_race = group[group.race_id == group.race_id.min()]
        df.loc[first_race[first_race.won == 0].index[0], "non_runner"] = True
    write_contract_marts(db_url, df)
    return df


def test_load_dataset_follows_the_contract(db_url, marts):
    end = START + dt.timedelta(days=9)
    frame = load_dataset(db_url, START, end)
    expected = marts[(marts.race_date <= end) & ~marts.non_runner]
    assert len(frame) == len(expected)  # inclusive end date, non-runners excluded
    assert frame["race_date"].max() == end
    assert frame["won"].sum() == expected["won"].sum()
    assert frame["mkt_implied_prob"].dtype == float and frame["f_x0"].dtype == float
    with pytest.raises(ValueError, match="before"):
        load_dataset(db_url, end, START)


def test_missing_marts_give_a_clear_error(db_url):
    with pytest.raises(MissingMartError, match="feat_runner_pre_race"):
        load_dataset(db_url, START, START)


def test_registry_versions_and_promotion(db_url, marts):
    frame = load_dataset(db_url, START, START + dt.timedelta(days=15))
    first = registry.register(db_url, WinModel(name="win", kind="condlogit", n_folds=3).fit(frame))
    second = registry.register(db_url, WinModel(name="win", kind="condlogit", n_folds=3).fit(frame))
    assert (first.version, second.version) == (1, 2)
    assert Path(first.artifact_path) == Path(registry.artifacts_dir("win", 1))
    assert (Path(first.artifact_path) / "manifest.json").exists()
    with pytest.raises(LookupError, match="production"):
        registry.get_model(db_url)
    registry.promote(db_url, "win@1")
    registry.promote(db_url, "win@2")
    statuses = {r.version: r.status for r in registry.list_models(db_url, "win")}
    assert statuses == {1: "archived", 2: "production"}
    assert registry.get_model(db_url).id == second.id
    assert registry.get_model(db_url, "win").id == second.id
    assert registry.get_model(db_url, "win@1").id == first.id
    with pytest.raises(LookupError):
        registry.get_model(db_url, "win@9")
    with pytest.raises(ValueError):
        registry.promote(db_url, "win")


def test_scoring_twice_leaves_the_same_rows(db_url, marts):
    day = START + dt.timedelta(days=20)
    frame = load_dataset(db_url, START, day - dt.timedelta(days=1))
    record = registry.register(db_url, WinModel(name="win", kind="lgbm", n_folds=3).fit(frame))
    registry.promote(db_url, record.label)

    first = score_day(db_url, day)
    rows1 = read_predictions(db_url, day).drop(columns=["scored_at"])
    second = score_day(db_url, day)
    rows2 = read_predictions(db_url, day).drop(columns=["scored_at"])
    assert first == second
    assert len(rows1) == len(marts[(marts.race_date == day) & ~marts.non_runner])
    assert rows1.equals(rows2)
    sums = rows1.groupby("race_id")["probability"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-9)
    assert (rows1.groupby("race_id")["rank"].min() == 1).all()
    np.testing.assert_allclose(rows1["fair_odds"] * rows1["probability"], 1.0)
    assert (rows1["kelly_fraction"].between(0, 0.05)).all()
    assert ((rows1["edge"] > 0) == (rows1["kelly_fraction"] > 0)).all()
    assert rows1["market_odds"].notna().all() and rows1["market_served_at"].notna().all()
    # each publication carries p_place: Simple placé pays 3 places from 8 starters, 2 from 4 to 7,
    # so a race's place probabilities sum to the places paid
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "select race_id, count(*), sum(p_place) from modeling.published_predictions"
            " where publication_id = (select max(publication_id) from modeling.publications) group by 1"
        )
        place_sums = cur.fetchall()
    assert len(place_sums) == rows1["race_id"].nunique()
    for _race, runners, total in place_sums:
        assert total == pytest.approx(3.0 if runners >= 8 else 2.0)


def test_rescoring_after_a_withdrawal_keeps_races_summing_to_one(db_url, marts):
    day = START + dt.timedelta(days=21)
    frame = load_dataset(db_url, START, day - dt.timedelta(days=1))
    record = registry.register(db_url, WinModel(name="win", kind="condlogit", n_folds=3).fit(frame))
    score_day(db_url, day, model_ref=record.label)
    race = marts[marts.race_date == day].race_id.max()
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "update marts.fct_runner_result set is_non_runner = true where race_id = %s and num_pmu = 1",
            (race,),
        )
    score_day(db_url, day, model_ref=record.label)
    rows = read_predictions(db_url, day, record.id)
    assert 1 not in set(rows[rows.race_id == race].num_pmu)
    np.testing.assert_allclose(rows.groupby("race_id")["probability"].sum(), 1.0, atol=1e-9)
    assert len(load_scoring_frame(db_url, day)) == len(rows)


def _pmu(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pmu_cli.main", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_cli_train_promote_score_evaluate(db_url, marts, tmp_path):
    last_train = (START + dt.timedelta(days=19)).isoformat()
    trained = _pmu(
        "train", "--start", START.isoformat(), "--end", last_train, "--kind", "condlogit", "--name", "cli"
    )
    assert trained.returncode == 0, trained.stderr
    assert "registered cli@1 (candidate)" in trained.stdout
    # the progress bar on stderr: the ensemble's 2 out-of-fold fits and, for a conditional logit,
    # its refit on every race
    assert "train cli" in trained.stderr and "3/3" in trained.stderr
    empty = _pmu("train", "--start", "1999-01-01", "--end", "1999-01-31", "--kind", "condlogit")
    assert empty.returncode == 2 and f"holds {N_DAYS} days, {START}.." in empty.stderr
    listed = _pmu("models", "list", "--json")
    assert [m["version"] for m in json.loads(listed.stdout)] == [1]
    no_production = _pmu("score", "--date", (START + dt.timedelta(days=20)).isoformat())
    assert no_production.returncode == 2 and "production" in no_production.stderr
    assert _pmu("models", "promote", "cli@1").returncode == 0
    scored = _pmu("score", "--date", (START + dt.timedelta(days=20)).isoformat())
    assert scored.returncode == 0, scored.stderr
    assert "with cli@1: 12 races" in scored.stdout
    nothing = _pmu("score", "--date", "1999-01-01")  # a day the warehouse does not hold
    assert nothing.returncode == 2 and f"holds {N_DAYS} days, {START}.." in nothing.stderr
    out = tmp_path / "eval"
    evaluated = _pmu(
        "evaluate",
        "--start",
        START.isoformat(),
        "--end",
        (START + dt.timedelta(days=23)).isoformat(),
        "--kind",
        "condlogit",
        "--min-train-days",
        "16",
        "--test-days",
        "4",
        "--out",
        str(out),
        "--model",
        "cli@1",
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert "walk-forward" in evaluated.stderr and "2/2" in evaluated.stderr  # 8 test days, 4 per fold
    result = json.loads((out / "metrics.json").read_text())
    assert result["races"] == 8 * 12
    last_day = START + dt.timedelta(days=23)
    for png in ("calibration.png", "feature_importance.png", "cumulative_roi.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
        title = Image.open(out / png).text["Title"]
        assert (
            "cli@1 (condlogit)" in title and f"held out {START + dt.timedelta(days=16)}..{last_day}" in title
        )
    listing = _pmu("models", "list").stdout.splitlines()
    row = next(line for line in listing if "cli@1" in line)
    assert " 96 " in row and f"{START + dt.timedelta(days=16)}..{last_day}" in row
    stored = registry.get_model(db_url, "cli@1").metrics
    assert stored["evaluation"]["races"] == 96
    bad = _pmu("train", "--start", "2024-13-01", "--end", last_train)
    assert bad.returncode == 2 and "not a date" in bad.stderr
