"""Scoring a day: the chosen model's probabilities for every declared runner, published to
modeling.predictions with an idempotent upsert on (model, race, runner), and kept as one
publication (modeling.publications + modeling.published_predictions, append-only) with its as-of
times and per-runner explanations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import psycopg2.extras

from ml import metrics, registry
from ml.dataset import load_scoring_frame
from ml.explain import explain
from ml.finishing import HARVILLE, place_probabilities_by_race
from ml.groups import rank_in_race
from ml.models import WinModel
from pmu_core import db
from pmu_core.facts import DEFAULT_MIN_EDGE, KELLY_CAP

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


def prediction_rows(
    model: WinModel,
    frame: pd.DataFrame,
    *,
    kelly_cap: float = KELLY_CAP,
    place_discounts: Sequence[float] = HARVILLE,
) -> pd.DataFrame:
    """One row per runner: probability (combined with the market where priced), rank, fair odds, the
    market at scoring time, edge = p·odds - 1, a capped Kelly stake, and p_place (Simple placé by
    the field's rule, from the finishing-order model with the model's place discounts)."""
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
            "p_place": place_probabilities_by_race(preds["race_id"].to_numpy(), p, lambdas=place_discounts),
        }
    )
    why = explain(model, frame.drop(columns=[c for c in ("won",) if c in frame.columns]))
    return out.merge(why, on=["race_id", "num_pmu"], how="left", validate="one_to_one")


def _none_if_nan(value):
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if value is pd.NaT:
        return None
    return value


_PUBLICATION_SQL = """
insert into modeling.publications (
    model_id, model_name, model_version, race_date, published_at, market_served_at, trigger, races, runners
) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)
returning publication_id
"""

_PUBLISHED_SQL = """
insert into modeling.published_predictions (
    publication_id, race_id, num_pmu, probability, p_model, rank, fair_odds, market_odds, market_prob,
    market_served_at, edge, kelly_fraction, p_place, explanation
) values %s
"""


def write_predictions(
    db_url: str | None,
    record: registry.ModelRecord,
    rows: pd.DataFrame,
    *,
    scored_at: dt.datetime | None = None,
    trigger: str = "manual",
) -> int:
    """One transaction: a new publication of `rows` (history, never updated), and the upsert of the
    latest rows per runner; runners of the scored races that are no longer in `rows` (withdrawn
    since the last scoring) are removed from the latest so that each race still sums to 1."""
    scored_at = scored_at or dt.datetime.now(dt.UTC)
    latest_values, published_values = [], []
    for r in rows.itertuples(index=False):
        market = (
            _none_if_nan(float(r.market_odds)),
            _none_if_nan(float(r.market_prob)),
            _none_if_nan(None if pd.isna(r.market_served_at) else r.market_served_at),
        )
        probability = (float(r.probability), _none_if_nan(float(r.p_model)), int(r.rank), float(r.fair_odds))
        stake = (_none_if_nan(float(r.edge)), float(r.kelly_fraction))
        latest_values.append(
            (record.id, record.name, record.version, r.race_id, r.race_date, int(r.num_pmu))
            + probability
            + market
            + stake
            + (scored_at,)
        )
        explanation = getattr(r, "explanation", None)
        published_values.append(
            (r.race_id, int(r.num_pmu))
            + probability
            + market
            + stake
            + (_none_if_nan(float(getattr(r, "p_place", np.nan))),)
            + (psycopg2.extras.Json(explanation) if isinstance(explanation, list) else None,)
        )
    served = pd.to_datetime(rows["market_served_at"], utc=True) if "market_served_at" in rows else None
    market_served_at = None if served is None or served.isna().all() else served.max().to_pydatetime()
    days = sorted(set(rows["race_date"]))
    with db.connection(db_url) as conn, conn.cursor() as cur:
        races = sorted(set(rows["race_id"]))
        cur.execute(
            "delete from modeling.predictions where model_id = %s and race_id = any(%s)"
            " and (race_id, num_pmu) not in (select * from unnest(%s::text[], %s::int[]))",
            (record.id, races, rows["race_id"].tolist(), rows["num_pmu"].astype(int).tolist()),
        )
        psycopg2.extras.execute_values(cur, _UPSERT_SQL, latest_values, page_size=2000)
        # One publication per race day scored (a run normally scores one day).
        for day in days:
            of_day = [v for v, d in zip(published_values, rows["race_date"], strict=True) if d == day]
            cur.execute(
                _PUBLICATION_SQL,
                (
                    record.id,
                    record.name,
                    record.version,
                    day,
                    scored_at,
                    market_served_at,
                    trigger,
                    len({v[0] for v in of_day}),
                    len(of_day),
                ),
            )
            publication_id = cur.fetchone()[0]
            psycopg2.extras.execute_values(
                cur, _PUBLISHED_SQL, [(publication_id, *v) for v in of_day], page_size=2000
            )
    return len(latest_values)


def moved_races(current: pd.DataFrame, scored: pd.DataFrame) -> list[str]:
    """Races whose runners or market (odds, snapshot time) differ from what was scored, or that were
    never scored. `current`: race_id, num_pmu, mkt_odds, mkt_served_at (the feature mart now);
    `scored`: race_id, num_pmu, market_odds, market_served_at (modeling.predictions)."""

    def runner_state(df: pd.DataFrame, odds: str, served: str) -> pd.Series:
        odds_values = pd.to_numeric(df[odds], errors="coerce").round(4)
        served_values = pd.to_datetime(df[served], utc=True)
        keys = [
            f"{int(n)}:{o}@{t}" for n, o, t in zip(df["num_pmu"], odds_values, served_values, strict=True)
        ]
        return pd.Series(keys, index=df.index).groupby(df["race_id"]).agg(lambda s: "|".join(sorted(s)))

    now = runner_state(current, "mkt_odds", "mkt_served_at")
    before = (
        runner_state(scored, "market_odds", "market_served_at") if not scored.empty else pd.Series(dtype=str)
    )
    return sorted(race for race, state in now.items() if before.get(race) != state)


def scored_market(db_url: str | None, model_id: int, day: dt.date) -> pd.DataFrame:
    """What a model published for a day: race_id, num_pmu, market_odds, market_served_at."""
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "select race_id, num_pmu, market_odds, market_served_at from modeling.predictions"
            " where model_id = %s and race_date = %s",
            (model_id, day),
        )
        return pd.DataFrame(cur.fetchall(), columns=["race_id", "num_pmu", "market_odds", "market_served_at"])


def score_day(
    db_url: str | None,
    day: dt.date,
    *,
    model_ref: str | None = None,
    only_moved: bool = False,
    min_edge: float = DEFAULT_MIN_EDGE,
    trigger: str = "manual",
    scored_at: dt.datetime | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Score every declared runner of `day` with the chosen model (default: the production model).
    `only_moved`: only the races whose market or field changed since this model scored them (the
    pre-race odds refreshes). `trigger` names what asked for the run (morning, odds_moved, manual);
    `scored_at` is the publication time (default now; a replay passes its simulated clock).
    Returns what was published; `races` 0 when nothing was (and no publication is written)."""
    registry.ensure_tables(db_url)
    record, model = registry.load_model(db_url, model_ref)
    summary = {"model": record.label, "model_id": record.id, "date": str(day), "races": 0, "runners": 0}
    frame = load_scoring_frame(db_url, day)
    if frame.empty:
        return summary
    if only_moved:
        moved = moved_races(frame, scored_market(db_url, record.id, day))
        if log:
            races = frame["race_id"].nunique()
            log(f"{day}: {len(moved)} of {races} races moved since scored with {record.label}")
        if not moved:
            return summary | {"value_bets": 0}
        frame = frame.loc[frame["race_id"].isin(moved)].reset_index(drop=True)
    rows = prediction_rows(model, frame, place_discounts=record.metrics.get("place_discounts") or HARVILLE)
    written = write_predictions(db_url, record, rows, scored_at=scored_at, trigger=trigger)
    return summary | {
        "races": int(rows["race_id"].nunique()),
        "runners": written,
        "value_bets": int((rows["edge"] > min_edge).sum()),
    }


def read_predictions(db_url: str | None, day: dt.date, model_id: int | None = None) -> pd.DataFrame:
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "select * from modeling.predictions where race_date = %s"
            " and (%s::bigint is null or model_id = %s) order by model_id, race_id, num_pmu",
            (day, model_id, model_id),
        )
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


# --- what was published, for the checks ----------------------------------------------------------


def published_race_sums(db_url: str | None, model_id: int, days: list[dt.date]) -> dict[str, float]:
    """race_id -> sum of the published probabilities of a model for the days."""
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "select race_id, sum(probability) from modeling.predictions"
            " where model_id = %s and race_date = any(%s) group by race_id",
            (model_id, days),
        )
        return {race: float(total) for race, total in cur.fetchall()}


def published_rows(db_url: str | None, model_id: int, days: list[dt.date]) -> int:
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "select count(*) from modeling.predictions where model_id = %s and race_date = any(%s)",
            (model_id, days),
        )
        return int(cur.fetchone()[0])


def recent_outcomes(db_url: str | None, model_name: str, day: dt.date, days: int) -> pd.DataFrame:
    """Published probabilities of a model name (its latest version per race) for the race days in
    [day - days, day], with the results known now: race_id, probability, is_winner."""
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            """
            with latest as (
                select race_id, max(model_id) as model_id
                from modeling.predictions
                where model_name = %(name)s and race_date between %(first)s and %(day)s
                group by race_id
            )
            select p.race_id, p.probability, r.is_winner
            from modeling.predictions as p
            inner join latest as l on l.race_id = p.race_id and l.model_id = p.model_id
            inner join marts.fct_runner_result as r on r.race_id = p.race_id and r.num_pmu = p.num_pmu
            where not r.is_non_runner
            order by p.race_id, p.num_pmu
            """,
            {"name": model_name, "first": day - dt.timedelta(days=days), "day": day},
        )
        return pd.DataFrame(cur.fetchall(), columns=["race_id", "probability", "is_winner"])


def published_races(db_url: str | None, model_id: int, days: list[dt.date]) -> set[str]:
    """Races that at least one publication of the model covers for the days (what the API serves)."""
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "select distinct pp.race_id from modeling.published_predictions as pp"
            " inner join modeling.publications as p on p.publication_id = pp.publication_id"
            " where p.model_id = %s and p.race_date = any(%s)",
            (model_id, days),
        )
        return {race for (race,) in cur.fetchall()}
