"""Publications and the predictions API against a real PostgreSQL and a real uvicorn server.

The feature marts are written per contract 3 from a simulated conditional-logit world (as in
tests/test_ml_registry.py), with a marts.race holding each race's start; a model is trained,
registered and promoted, and the last days are published at known times: a morning run, an
odds re-score before the start and a publication after the start (which knows the winners)."""

from __future__ import annotations

import asyncio
import datetime as dt

import numpy as np
import pandas as pd
import psycopg
import psycopg2
import psycopg2.extras
import pytest
import requests
from uvicorn_server import Server

from ml import metrics, registry
from ml.dataset import load_dataset
from ml.groups import rank_in_race
from ml.models import WinModel
from ml.scoring import prediction_rows, score_day, write_predictions
from ml.simulate import simulate_races
from pipeline.build import build
from pmu_core import db
from pmu_core.facts import KELLY_CAP
from serving.app import create_app

START = dt.date(2024, 5, 1)
N_DAYS = 14
TRAIN_DAYS = 11
LAST = START + dt.timedelta(days=N_DAYS - 1)
SCORED = [START + dt.timedelta(days=i) for i in range(TRAIN_DAYS, N_DAYS)]
pytestmark = pytest.mark.slow  # the accuracy mart is built by dbt (about a minute with the fixture)

RACE_HOUR_UTC = 14  # every simulated race starts at 14:00 UTC, its market served 5 h before


def start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(RACE_HOUR_UTC), dt.UTC)


MORNING = {day: start_of(day) - dt.timedelta(hours=5, minutes=-5) for day in SCORED}  # 09:05
ODDS_MOVED = start_of(LAST) - dt.timedelta(minutes=30)
AFTER_START = start_of(LAST) + dt.timedelta(minutes=20)


def write_marts(url: str, df: pd.DataFrame) -> None:
    """marts.feat_runner_pre_race, marts.fct_runner_result (contract 3) and marts.race."""
    features = [c for c in df.columns if c.startswith("f_")]
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cols = ", ".join(f"{f} double precision" for f in features)  # test constants, not input
        cur.execute(f"""create table marts.feat_runner_pre_race (race_id text, race_date date,
            race_start_at timestamptz, num_pmu int, horse_key text, {cols}, mkt_odds numeric,
            mkt_implied_prob numeric, mkt_odds_rank int, mkt_served_at timestamptz)""")
        cur.execute("""create table marts.fct_runner_result (race_id text, race_date date, num_pmu int,
            is_non_runner bool, finish_place int, is_winner bool, final_odds numeric)""")
        cur.execute(
            "create table marts.race (race_id text primary key, race_date date, race_start_at timestamptz)"
        )
        feats, results = [], []
        for r in df.itertuples(index=False):
            start_at = start_of(r.race_date)
            feats.append(
                (r.race_id, r.race_date, start_at, int(r.num_pmu), f"h{r.race_id}{r.num_pmu}")
                + tuple(None if np.isnan(getattr(r, f)) else float(getattr(r, f)) for f in features)
                + (float(r.mkt_odds), float(r.mkt_implied_prob), None, start_at - dt.timedelta(hours=5))
            )
            results.append(
                (
                    r.race_id,
                    r.race_date,
                    int(r.num_pmu),
                    False,
                    1 if r.won else None,
                    bool(r.won),
                    float(r.final_odds),
                )
            )
        psycopg2.extras.execute_values(cur, "insert into marts.feat_runner_pre_race values %s", feats)
        psycopg2.extras.execute_values(cur, "insert into marts.fct_runner_result values %s", results)
        races = df.drop_duplicates("race_id")
        psycopg2.extras.execute_values(
            cur,
            "insert into marts.race values %s",
            [(r.race_id, r.race_date, start_of(r.race_date)) for r in races.itertuples(index=False)],
        )


def with_probabilities(rows: pd.DataFrame, p: np.ndarray) -> pd.DataFrame:
    """Published rows given other probabilities: rank, fair odds, edge and Kelly follow them (the
    odds stay those the edge was computed at)."""
    out = rows.copy()
    odds = (rows["edge"] + 1.0) / rows["probability"]
    out["probability"] = p
    out["rank"] = rank_in_race(np.asarray(p), out["race_id"].to_numpy())
    out["fair_odds"] = 1.0 / out["probability"]
    out["edge"] = out["probability"] * odds - 1.0
    out["kelly_fraction"] = metrics.kelly_fraction(out["probability"], odds)
    return out


def sql_rows(url: str, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall()


@pytest.fixture(scope="module")
def published(databases, tmp_path_factory):
    """(url, model record, model, simulated frame): the last three days published at their
    mornings, the last day also re-scored before its start (odds moved) and after it."""
    df = simulate_races(N_DAYS, 8, start=START, seed=3)
    name, url = databases.create()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PMU_DATABASE_URL", url)
        mp.setenv("PMU_HOME", str(tmp_path_factory.mktemp("pmu_home")))
        for key, value in db.dbt_env(url).items():
            mp.setenv(key, value)
        write_marts(url, df)
        model = WinModel(name="serve_test", kind="condlogit", n_folds=3).fit(
            load_dataset(url, START, SCORED[0] - dt.timedelta(days=1))
        )
        record = registry.register(url, model)
        registry.promote(url, record.label)
        for day in SCORED:
            score_day(url, day, trigger="morning", scored_at=MORNING[day])
        # The odds moved before the start: a re-score whose probabilities differ (here, halfway to
        # uniform), then a publication after the start that knows the winners: the accuracy mart
        # must judge the first, never the second.
        from ml.dataset import load_scoring_frame

        rows = prediction_rows(model, load_scoring_frame(url, LAST))
        sizes = rows.groupby("race_id")["num_pmu"].transform("size")
        moved = with_probabilities(rows, (0.5 * rows["probability"] + 0.5 / sizes).to_numpy())
        write_predictions(url, record, moved, scored_at=ODDS_MOVED, trigger="odds_moved")
        winners = df.set_index(["race_id", "num_pmu"])["won"]
        won = winners.reindex(pd.MultiIndex.from_frame(rows[["race_id", "num_pmu"]])).to_numpy().astype(bool)
        cheat = with_probabilities(rows, np.where(won, 0.99, 0.01 / (sizes - 1)))
        write_predictions(url, record, cheat, scored_at=AFTER_START, trigger="manual")
        build(url, select=("ml_model_daily_accuracy",), command="run")
        yield url, record, model, df, moved
    databases.drop(name)


@pytest.fixture(scope="module")
def api(published):
    url = published[0]
    with Server(create_app(url, today=LAST)) as base:
        yield base


# --- publications and the accuracy mart -----------------------------------------------------------


def test_every_scoring_run_is_kept_as_a_publication_with_its_as_of(published):
    url, record, model, df, _ = published
    pubs = sql_rows(
        url,
        "select race_date, published_at, market_served_at, trigger, races, runners from modeling.publications"
        " order by published_at",
    )
    assert [(p[0], p[1], p[3]) for p in pubs] == [(d, MORNING[d], "morning") for d in SCORED] + [
        (LAST, ODDS_MOVED, "odds_moved"),
        (LAST, AFTER_START, "manual"),
    ]
    for day, _, served, _, races, runners in pubs:
        of_day = df[df.race_date == day]
        assert served == start_of(day) - dt.timedelta(hours=5)  # the market snapshot the inputs came from
        assert (races, runners) == (of_day.race_id.nunique(), len(of_day))
    # the latest table holds only the last publication of each runner; the history holds them all
    ((latest,),) = sql_rows(url, "select count(*) from modeling.predictions")
    ((history,),) = sql_rows(url, "select count(*) from modeling.published_predictions")
    assert latest == len(df[df.race_date.isin(SCORED)])
    assert history == latest + 2 * len(df[df.race_date == LAST])


def test_explanations_are_the_top_terms_of_the_conditional_logit(published):
    url, record, model, df, _ = published
    ((race_id, num_pmu, explanation),) = sql_rows(
        url,
        "select race_id, num_pmu, explanation from modeling.published_predictions as pp"
        " join modeling.publications as p using (publication_id) where p.trigger = 'morning'"
        " order by race_id, num_pmu limit 1",
    )
    assert 1 <= len(explanation) <= 5 and {e["feature"] for e in explanation} <= set(model.features)
    runner = df[(df.race_id == race_id) & (df.num_pmu == num_pmu)]
    for term in explanation:
        f = term["feature"]
        z = (runner[f].fillna(model.scaler.medians[f]).iloc[0] - model.scaler.means[f]) / model.scaler.scales[
            f
        ]
        beta = model.stage1_coef[model.features.index(f)]
        assert term["contribution"] == pytest.approx(beta * z * model.temperature, abs=1e-5)
    sizes = [abs(e["contribution"]) for e in explanation]
    assert sizes == sorted(sizes, reverse=True)


def test_accuracy_mart_judges_the_last_publication_before_the_start(published):
    url, record, model, df, moved = published
    ((races, log_loss, hit_rate),) = sql_rows(
        url,
        "select races, log_loss, hit_rate from marts.ml_model_daily_accuracy where race_date = %s",
        (LAST,),
    )
    # recomputed here from the odds-moved rows (published 30 min before the start) and the winners
    truth = df[df.race_date == LAST][["race_id", "num_pmu", "won"]]
    joined = moved.merge(truth, on=["race_id", "num_pmu"])
    expected = -np.log(joined.loc[joined.won.astype(bool), "probability"]).mean()
    assert races == truth.race_id.nunique()
    assert log_loss == pytest.approx(expected, rel=1e-9)
    # the publication after the start gave every winner 0.99: counting it would give ~0.01
    assert log_loss > 0.5
    assert hit_rate == pytest.approx(joined[joined["rank"] == 1].won.mean())


# --- the API ----------------------------------------------------------------------------------------


def test_health_reports_the_warehouse(api, published):
    record = published[1]
    body = requests.get(f"{api}/health", timeout=10).json()
    assert body["database"] == "ok" and body["latest_scored_day"] == LAST.isoformat()
    assert body["production_models"] == [{"id": record.id, "name": record.name, "version": record.version}]
    assert body["latest_publication_at"].startswith(AFTER_START.isoformat()[:19])
    assert body["latest_publication_age_s"] > 0


def test_predict_today_serves_the_latest_publication_of_each_race(api, published):
    url, record, model, df, _ = published
    body = requests.get(f"{api}/predict/today", timeout=10).json()
    of_day = df[df.race_date == LAST]
    assert body["date"] == LAST.isoformat() and len(body["races"]) == of_day.race_id.nunique()
    latest = dict(
        ((race, num), p)
        for race, num, p in sql_rows(url, "select race_id, num_pmu, probability from modeling.predictions")
    )
    for race in body["races"]:
        assert race["trigger"] == "manual"  # the after-start publication is the latest of the day
        assert race["as_of"].startswith((start_of(LAST) - dt.timedelta(hours=5)).isoformat()[:19])
        assert race["staleness_ms"] > 0
        assert sum(r["probability"] for r in race["runners"]) == pytest.approx(1.0)
        ranks = [r["rank"] for r in race["runners"]]
        assert ranks[0] == 1 and ranks == sorted(ranks)  # best first (ties share a rank)
        probabilities = [r["probability"] for r in race["runners"]]
        assert probabilities == sorted(probabilities, reverse=True)
        for r in race["runners"]:
            assert r["probability"] == pytest.approx(latest[(race["race_id"], r["num_pmu"])])
            assert r["fair_odds"] == pytest.approx(1 / r["probability"])
            assert r["explanation"] and r["explanation"][0]["feature"] in model.features


def test_predict_race_404_and_422(api, published):
    df = published[3]
    race_id = sorted(df[df.race_date == LAST].race_id)[0]
    body = requests.get(f"{api}/predict/race/{race_id}", timeout=10).json()
    assert body["race_id"] == race_id and len(body["runners"]) == len(df[df.race_id == race_id])

    unknown = requests.get(f"{api}/predict/race/{LAST.isoformat()}-R9-C9", timeout=10)
    assert unknown.status_code == 404 and f"{LAST.isoformat()}-R9-C9" in unknown.json()["detail"]
    for bad in ("2024-05-14-R1", "R1-C1", "2024-13-45-R1-C1", "2024-05-14-R1-C1;drop"):
        answer = requests.get(f"{api}/predict/race/{bad}", timeout=10)
        assert answer.status_code == 422, bad
    assert requests.get(f"{api}/predict/today?model=nobody@1", timeout=10).status_code == 404
    assert requests.get(f"{api}/predict/today?model=serve_test@x", timeout=10).status_code == 422
    assert requests.get(f"{api}/predictions?date=2024-02-30", timeout=10).status_code == 422
    assert requests.get(f"{api}/predictions", timeout=10).status_code == 422  # date is required
    assert requests.get(f"{api}/accuracy?start=yesterday", timeout=10).status_code == 422


def test_predictions_as_of_is_the_audit_trail(api, published):
    url, record, model, df, moved = published
    day = LAST.isoformat()
    at_morning = requests.get(
        f"{api}/predictions",
        params={"date": day, "as_of": (ODDS_MOVED - dt.timedelta(minutes=1)).isoformat()},
    ).json()
    assert {r["trigger"] for r in at_morning["races"]} == {"morning"}
    assert [p["trigger"] for p in at_morning["publications"]] == ["morning"]
    before_start = requests.get(
        f"{api}/predictions",
        params={"date": day, "as_of": (start_of(LAST) - dt.timedelta(seconds=1)).isoformat()},
    ).json()
    expected = moved.set_index(["race_id", "num_pmu"])["probability"]
    for race in before_start["races"]:
        assert race["trigger"] == "odds_moved" and race["published_at"].startswith(
            ODDS_MOVED.isoformat()[:19]
        )
        for r in race["runners"]:
            assert r["probability"] == pytest.approx(expected[(race["race_id"], r["num_pmu"])])
    now = requests.get(f"{api}/predictions", params={"date": day}).json()
    assert [p["trigger"] for p in now["publications"]] == ["morning", "odds_moved", "manual"]
    before_any = requests.get(
        f"{api}/predictions", params={"date": day, "as_of": "2024-05-01T00:00:00"}
    ).json()
    assert before_any["races"] == [] and before_any["publications"] == []


def test_signals_stake_a_capped_fraction_of_kelly(api, published):
    body = requests.get(
        f"{api}/signals",
        params={"date": SCORED[0].isoformat(), "min_edge": 0.02, "bankroll": 1000, "kelly": 0.5},
    ).json()
    assert body["signals"], "the simulated market leaves value bets"
    for s in body["signals"]:
        assert s["edge"] > 0.02
        odds = (1 + s["edge"]) / s["probability"]
        expected = min(0.5 * (s["probability"] * odds - 1) / (odds - 1), KELLY_CAP)
        assert s["stake_fraction"] == pytest.approx(expected)
        assert s["stake"] == pytest.approx(round(1000 * expected, 2))
    edges = [s["edge"] for s in body["signals"]]
    assert edges == sorted(edges, reverse=True)


def test_models_and_accuracy(api, published):
    url, record, *_ = published
    models = requests.get(f"{api}/models", timeout=10).json()
    assert [(m["name"], m["version"], m["status"]) for m in models] == [
        (record.name, record.version, "production")
    ]
    rows = requests.get(f"{api}/accuracy", params={"model": record.name}, timeout=10).json()
    assert [r["race_date"] for r in rows] == [d.isoformat() for d in SCORED]
    one = requests.get(
        f"{api}/accuracy", params={"model": record.label, "start": LAST.isoformat(), "end": LAST.isoformat()}
    ).json()
    ((log_loss,),) = sql_rows(
        url, "select log_loss from marts.ml_model_daily_accuracy where race_date = %s", (LAST,)
    )
    assert len(one) == 1 and one[0]["log_loss"] == pytest.approx(log_loss)
    assert requests.get(f"{api}/accuracy", params={"model": "nobody"}, timeout=10).status_code == 404
    assert requests.get(f"{api}/docs", timeout=10).status_code == 200
    assert "/predict/race/{race_id}" in requests.get(f"{api}/openapi.json", timeout=10).json()["paths"]


def test_sessions_are_read_only(api, published):
    from serving import app as app_module

    app = app_module.create_app(published[0])
    app.state.pool.open(wait=True)
    try:
        with app.state.pool.connection() as conn:
            assert conn.execute("show transaction_read_only").fetchone() == ("on",)
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("delete from modeling.publications")
    finally:
        app.state.pool.close()

    async def lookup_session() -> tuple:  # the pool of the cached endpoints' lookups
        await app.state.lookups.open(wait=True)
        try:
            async with app.state.lookups.connection() as conn:
                return await (await conn.execute("show transaction_read_only")).fetchone()
        finally:
            await app.state.lookups.close()

    assert asyncio.run(lookup_session()) == ("on",)
