"""Scoring a day: the chosen model's probabilities for every declared runner, published to
modeling.predictions with an idempotent upsert on (model, race, runner)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import psycopg2.extras

from ml import metrics, registry
from ml.dataset import load_scoring_frame
from ml.groups import rank_in_race
from ml.models import WinModel
from pmu_core import db

KELLY_CAP = 0.05

_UPSERT_SQL = """
insert into modeling.predictions (
    model_id, model_name, model_version, race_id, race_date, num_pmu, probability, p_model, rank,
    fair_odds, market_odds, market_prob, market_served_at, edge, kelly_fraction, scored_at
) values %s
on conflict (model_id, race_id, num_pmu) do update set
    race_date = excluded.race_date, probability = excluded.probability, p_model = excluded.p_model,
    rank = excluded.rank, fair_odds = excluded.fair_odds, market_odds = excluded.market_odds,
    market_prob = excluded.market_prob, market_served_at = excluded.market_served_at,
    edge = excluded.edge, kelly_fraction = excluded.kelly_fraction, scored_at = excluded.scored_at
"""


def prediction_rows(model: WinModel, frame: pd.DataFrame, *, kelly_cap: float = KELLY_CAP) -> pd.DataFrame:
    """One row per runner: probability (combined with the market where priced), rank, fair odds, the
    market at scoring time, edge = p·odds - 1 and a capped Kelly stake."""
    preds = model.predict(frame.drop(columns=[c for c in ("won",) if c in frame.columns]))
    p = preds["p_combined"].to_numpy(dtype=float)
    mkt_odds = preds["mkt_odds"].to_numpy(dtype=float) if "mkt_odds" in preds else np.full(len(preds), np.nan)
    odds_now = metrics.bet_odds(mkt_odds, preds["p_market"].to_numpy(dtype=float))
    out = pd.DataFrame(
        {
            "race_id": preds["race_id"],
            "race_date": preds["race_date"],
            "num_pmu": preds["num_pmu"].astype(int),
            "probability": p,
            "p_model": preds["p_model"].to_numpy(dtype=float),
            "rank": rank_in_race(p, preds["race_id"].to_numpy()),
            "fair_odds": 1.0 / np.clip(p, 1e-12, None),
            "market_odds": mkt_odds,
            "market_prob": preds["p_market"].to_numpy(dtype=float),
            "market_served_at": preds.get("mkt_served_at"),
            "edge": p * odds_now - 1.0,
            "kelly_fraction": metrics.kelly_fraction(p, odds_now, kelly_cap),
        }
    )
    return out


def _none_if_nan(value):
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if value is pd.NaT:
        return None
    return value


def write_predictions(
    db_url: str | None,
    record: registry.ModelRecord,
    rows: pd.DataFrame,
    *,
    scored_at: dt.datetime | None = None,
) -> int:
    """Upsert rows; runners of the scored races that are no longer in `rows` (withdrawn since the
    last scoring) are removed so that each race's probabilities still sum to 1."""
    scored_at = scored_at or dt.datetime.now(dt.UTC)
    values = [
        (
            record.id,
            record.name,
            record.version,
            r.race_id,
            r.race_date,
            int(r.num_pmu),
            float(r.probability),
            _none_if_nan(float(r.p_model)),
            int(r.rank),
            float(r.fair_odds),
            _none_if_nan(float(r.market_odds)),
            _none_if_nan(float(r.market_prob)),
            _none_if_nan(None if pd.isna(r.market_served_at) else r.market_served_at),
            _none_if_nan(float(r.edge)),
            float(r.kelly_fraction),
            scored_at,
        )
        for r in rows.itertuples(index=False)
    ]
    with db.connection(db_url) as conn, conn.cursor() as cur:
        races = sorted(set(rows["race_id"]))
        cur.execute(
            "delete from modeling.predictions where model_id = %s and race_id = any(%s)"
            " and (race_id, num_pmu) not in (select * from unnest(%s::text[], %s::int[]))",
            (record.id, races, rows["race_id"].tolist(), rows["num_pmu"].astype(int).tolist()),
        )
        psycopg2.extras.execute_values(cur, _UPSERT_SQL, values, page_size=2000)
    return len(values)


def score_day(db_url: str | None, day: dt.date, *, model_ref: str | None = None) -> dict:
    """Score every declared runner of `day` with the chosen model (default: the production model)."""
    registry.ensure_tables(db_url)
    record, model = registry.load_model(db_url, model_ref)
    frame = load_scoring_frame(db_url, day)
    if frame.empty:
        return {"model": record.label, "date": str(day), "races": 0, "runners": 0}
    rows = prediction_rows(model, frame)
    written = write_predictions(db_url, record, rows)
    return {
        "model": record.label,
        "model_id": record.id,
        "date": str(day),
        "races": int(rows["race_id"].nunique()),
        "runners": written,
        "value_bets": int((rows["edge"] > 0.05).sum()),
    }


def read_predictions(db_url: str | None, day: dt.date, model_id: int | None = None) -> pd.DataFrame:
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "select * from modeling.predictions where race_date = %s"
            " and (%s::bigint is null or model_id = %s) order by model_id, race_id, num_pmu",
            (day, model_id, model_id),
        )
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
