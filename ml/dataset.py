"""Datasets from the feature marts: marts.feat_runner_pre_race joined to marts.fct_runner_result.

Dates are inclusive on both ends (as on the command line). Non-runners are excluded. The market
columns come from the mart (the latest odds snapshot served before its cut-off); cutoff="morning"
replaces them by the odds of the latest participants body served before a local time of the race
day (default 10:30 Europe/Paris, and always before the race's start), read from the staging model
that unpacks those bodies (staging.stg_pmu__odds_snapshots)."""

from __future__ import annotations

import datetime as dt
import decimal

import numpy as np
import pandas as pd
from psycopg2 import sql

from ml.market_history import market_history_features
from ml.preferences import preference_features
from ml.ratings import RATING_FEATURES, add_ratings
from pmu_core import db

FEATURES_TABLE = "marts.feat_runner_pre_race"
RESULTS_TABLE = "marts.fct_runner_result"
ODDS_SNAPSHOTS_TABLE = "staging.stg_pmu__odds_snapshots"
CUTOFFS = ("mart", "morning")

_TRAINING_SQL = """
select f.*, r.is_winner, r.finish_place, r.final_odds
from marts.feat_runner_pre_race f
join marts.fct_runner_result r on r.race_id = f.race_id and r.num_pmu = f.num_pmu
where f.race_date between %(start)s and %(end)s
  and not coalesce(r.is_non_runner, false)
order by f.race_id, f.num_pmu
"""

# Scoring: every declared runner of the day not already known as a non-runner (results may not exist).
_SCORING_SQL = """
select f.*
from marts.feat_runner_pre_race f
left join marts.fct_runner_result r on r.race_id = f.race_id and r.num_pmu = f.num_pmu
where f.race_date = %(day)s
  and not coalesce(r.is_non_runner, false)
order by f.race_id, f.num_pmu
"""

_MORNING_ODDS_SQL = """
with snapshot as (
    select distinct on (o.race_id) o.race_id, o.snapshot_raw_id
    from staging.stg_pmu__odds_snapshots as o
    where o.race_date between %(start)s and %(end)s
      and o.snapshot_served_at < (o.race_date + %(cut)s::time) at time zone 'Europe/Paris'
    order by o.race_id, o.snapshot_served_at desc
)
select o.race_id, o.num_pmu, o.odds_direct as odds, o.snapshot_served_at as served_at
from staging.stg_pmu__odds_snapshots as o
inner join snapshot as s on o.race_id = s.race_id and o.snapshot_raw_id = s.snapshot_raw_id
"""


# History for the point-in-time ratings, condition preferences and past-market features: every
# runner of the earlier days with its keys, race conditions, place, result and closing odds.
_HISTORY_COLUMNS = {
    "f": (
        "race_id",
        "race_date",
        "num_pmu",
        "horse_key",
        "jockey_key",
        "trainer_key",
        "discipline",
        "f_distance_m",
        "f_going_penetrometre",
    ),
    "r": ("finish_place", "has_result", "is_winner", "final_odds"),
}


class MissingMartError(RuntimeError):
    pass


def _check_tables(cur, tables: tuple[str, ...]) -> None:
    for table in tables:
        cur.execute("select to_regclass(%s)", (table,))
        if cur.fetchone()[0] is None:
            raise MissingMartError(
                f"{table} does not exist: build the feature marts first (pmu features build, or "
                "cd dbt_project && dbt build --select +feat_runner_pre_race +fct_runner_result)"
            )


def _frame(cur) -> pd.DataFrame:
    columns = [d.name for d in cur.description]
    df = pd.DataFrame(cur.fetchall(), columns=columns)
    for col in df.columns:  # numeric comes back as Decimal
        if df[col].map(lambda v: isinstance(v, decimal.Decimal)).any():
            df[col] = pd.to_numeric(df[col].astype(float), errors="coerce")
    return df


def load_dataset(
    db_url: str | None,
    start: dt.date,
    end: dt.date,
    *,
    cutoff: str = "mart",
    morning_time: str = "10:30",
    ratings: bool = True,
) -> pd.DataFrame:
    """Training/evaluation frame for races dated start..end (inclusive), with `won`. ratings=True
    adds the point-in-time ratings (ml.ratings) and past-closing-market features (ml.market_history)
    computed from every earlier day in the warehouse."""
    if cutoff not in CUTOFFS:
        raise ValueError(f"cutoff must be one of {CUTOFFS}, not {cutoff!r}")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    with db.connection(db_url) as conn, conn.cursor() as cur:
        _check_tables(cur, (FEATURES_TABLE, RESULTS_TABLE))
        cur.execute(_TRAINING_SQL, {"start": start, "end": end})
        df = _frame(cur)
        if cutoff == "morning" and not df.empty:
            _check_tables(cur, (ODDS_SNAPSHOTS_TABLE,))
            cur.execute(_MORNING_ODDS_SQL, {"start": start, "end": end, "cut": morning_time})
            morning = _frame(cur)
            df = with_market(df, morning)
        if ratings and not df.empty:
            df = _with_ratings(cur, df, end)
    df["won"] = df["is_winner"].fillna(False).astype(bool).astype(float)
    return without_declared_non_runners(df)


def _existing_columns(cur, table: str) -> set[str]:
    schema, name = table.split(".")
    cur.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
        (schema, name),
    )
    return {row[0] for row in cur.fetchall()}


def _with_ratings(cur, df: pd.DataFrame, end: dt.date) -> pd.DataFrame:
    """Ratings, condition preferences (ml.preferences) and past-closing-market features
    (ml.market_history) of each runner before its race day, from all results and final odds of the
    days before it."""
    have = {"f": _existing_columns(cur, FEATURES_TABLE), "r": _existing_columns(cur, RESULTS_TABLE)}
    columns = [
        sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(col))
        for alias, cols in _HISTORY_COLUMNS.items()
        for col in cols
        if col in have[alias]
    ]
    query = sql.SQL(
        "select {} from marts.feat_runner_pre_race as f join marts.fct_runner_result as r"
        " on r.race_id = f.race_id and r.num_pmu = f.num_pmu"
        " where f.race_date <= %s and not coalesce(r.is_non_runner, false)"
    ).format(sql.SQL(", ").join(columns))
    cur.execute(query, (end,))
    rated = add_ratings(_frame(cur))
    keep = ["race_id", "num_pmu", *RATING_FEATURES]
    out = df.merge(rated[keep], on=["race_id", "num_pmu"], how="left")
    if "horse_key" in rated.columns:
        out = out.merge(preference_features(df, rated), on=["race_id", "num_pmu"], how="left")
    if {"final_odds", "is_winner", "horse_key"} <= set(rated.columns):
        market = market_history_features(df, rated)
        out = out.merge(market, on=["race_id", "num_pmu"], how="left")
    return out


def without_declared_non_runners(df: pd.DataFrame) -> pd.DataFrame:
    """Runners the feature mart marks as declared non-runners before the start take no part."""
    if "is_declared_non_runner" not in df.columns:
        return df
    return df.loc[~df["is_declared_non_runner"].fillna(False).astype(bool)].reset_index(drop=True)


def load_scoring_frame(db_url: str | None, day: dt.date, *, ratings: bool = True) -> pd.DataFrame:
    """The day's declared runners with their pre-race features and market (no outcomes)."""
    with db.connection(db_url) as conn, conn.cursor() as cur:
        _check_tables(cur, (FEATURES_TABLE, RESULTS_TABLE))
        cur.execute(_SCORING_SQL, {"day": day})
        df = _frame(cur)
        if ratings and not df.empty:
            df = _with_ratings(cur, df, day)
        return without_declared_non_runners(df)


def feature_days(db_url: str | None) -> list[dt.date]:
    """The race dates the feature mart holds (empty without it), for messages that say what is there."""
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass(%s)", (FEATURES_TABLE,))
        if cur.fetchone()[0] is None:
            return []
        cur.execute("select distinct race_date from marts.feat_runner_pre_race order by 1")
        return [row[0] for row in cur.fetchall()]


def races_to_score(db_url: str | None, days: list[dt.date]) -> set[str]:
    """Races of the days with at least one runner to score: those of load_scoring_frame, the one
    statement of the rule (declared, not a non-runner)."""
    return {race for day in days for race in load_scoring_frame(db_url, day, ratings=False)["race_id"]}


def with_market(df: pd.DataFrame, snapshot: pd.DataFrame) -> pd.DataFrame:
    """Replace the mart's market columns by a snapshot's odds (race_id, num_pmu, odds, served_at),
    ignoring snapshots served at or after the race's start: the odds then carry the result."""
    snap = snapshot.rename(columns={"odds": "mkt_odds", "served_at": "mkt_served_at"})
    out = df.drop(
        columns=[
            c for c in ("mkt_odds", "mkt_implied_prob", "mkt_odds_rank", "mkt_served_at") if c in df.columns
        ]
    ).merge(snap, on=["race_id", "num_pmu"], how="left")
    if "race_start_at" in out.columns:
        late = pd.to_datetime(out["mkt_served_at"], utc=True) >= pd.to_datetime(
            out["race_start_at"], utc=True
        )
        out.loc[late.fillna(False), ["mkt_odds", "mkt_served_at"]] = np.nan
    odds = pd.to_numeric(out["mkt_odds"], errors="coerce")
    inverse = 1.0 / odds.where(odds > 1.0)
    out["mkt_implied_prob"] = inverse / inverse.groupby(out["race_id"]).transform("sum")
    out["mkt_odds_rank"] = odds.groupby(out["race_id"]).rank(method="min")
    return out.sort_values(["race_id", "num_pmu"]).reset_index(drop=True)
