"""The API's reads of the warehouse: plain functions over a psycopg (3) connection, every input a
bound parameter. Each returns plain dicts and lists; serving/app.py shapes them into responses.

What is served is what was published (modeling.publications + modeling.published_predictions): for
each race, the latest publication of the model that covered it, or, with `as_of`, the latest one
published at or before that time (the audit trail)."""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg.rows import dict_row

from pmu_core.facts import KELLY_CAP


def fractional_kelly(p: float, odds: float | None, fraction: float, cap: float = KELLY_CAP) -> float:
    """Stake as a share of the bankroll: `fraction` of the Kelly stake (p·o - 1)/(o - 1), capped."""
    if odds is None or odds <= 1.0:
        return 0.0
    full = (p * odds - 1.0) / (odds - 1.0)
    return float(min(max(fraction * full, 0.0), cap))


def _rows(conn, statement: str, params: dict | tuple = ()) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(statement, params)
        return cur.fetchall()


def _exists(conn, relation: str) -> bool:
    return _rows(conn, "select to_regclass(%s) is not null as present", (relation,))[0]["present"]


# --- models ---------------------------------------------------------------------------------------

_MODEL_COLUMNS = (
    "id, name, version, kind, status, trained_at, train_start, train_end, feature_hash, features, metrics"
)


def models(conn) -> list[dict]:
    if not _exists(conn, "modeling.models"):
        return []
    return _rows(conn, f"select {_MODEL_COLUMNS} from modeling.models order by name, version")


# id, name and version are all the API shows of the chosen model (the registry is /models)
_RESOLVE_MODEL_SQL = """
select id, name, version, day.publications as day_publications, day.latest as day_latest_publication
from modeling.models
left join lateral (
    select count(*) as publications, max(publication_id) as latest
    from modeling.publications
    where model_id = modeling.models.id and race_date = %(day)s
) as day on true
where (%(name)s::text is null or name = %(name)s)
    and case when %(version)s::integer is null then status = 'production' else version = %(version)s end
order by trained_at desc, id desc
limit 1
"""


def _resolve_model_params(ref: str | None, day: dt.date | None) -> dict:
    name, _, version = (ref or "").partition("@")
    return {"name": name or None, "version": int(version) if version else None, "day": day}


def resolve_model(conn, ref: str | None, day: dt.date | None = None) -> dict | None:
    """NAME@VERSION, NAME (its production version) or None (the latest-trained production model),
    as in ml.registry.get_model; None when there is no such model. One query, which also reads the
    key of the model's publications of `day` (`day_publications`, `day_latest_publication`: what
    serving/cache.py checks a cached day against). Before `pmu train` creates modeling.* there is
    no model (asked without a check first: this runs on every request)."""
    try:
        found = _rows(conn, _RESOLVE_MODEL_SQL, _resolve_model_params(ref, day))
    except psycopg.errors.UndefinedTable:
        return None
    return found[0] if found else None


async def resolve_model_async(conn: psycopg.AsyncConnection, ref: str | None, day: dt.date) -> dict | None:
    """resolve_model on an asyncio connection: the lookup of the cached endpoints."""
    try:
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(_RESOLVE_MODEL_SQL, _resolve_model_params(ref, day))
            found = await cur.fetchall()
    except psycopg.errors.UndefinedTable:
        return None
    return found[0] if found else None


# --- health ---------------------------------------------------------------------------------------


def health(conn) -> dict:
    out: dict = {"latest_landed_day": None, "latest_scored_day": None, "latest_publication_at": None}
    if _exists(conn, "raw.pmu_programme"):
        out["latest_landed_day"] = _rows(conn, "select max(race_date) as day from raw.pmu_programme")[0][
            "day"
        ]
    if _exists(conn, "modeling.publications"):
        latest = _rows(
            conn, "select max(race_date) as day, max(published_at) as at from modeling.publications"
        )[0]
        out["latest_scored_day"], out["latest_publication_at"] = latest["day"], latest["at"]
    out["production_models"] = [m for m in models(conn) if m["status"] == "production"]
    return out


# --- publications ---------------------------------------------------------------------------------

_LATEST_PER_RACE_SQL = """
with chosen as (
    select distinct on (pp.race_id) pp.race_id, p.publication_id
    from modeling.published_predictions as pp
    inner join modeling.publications as p on p.publication_id = pp.publication_id
    where p.model_id = %(model_id)s
        and p.race_date = %(day)s
        and (%(race_id)s::text is null or pp.race_id = %(race_id)s)
        and (%(as_of)s::timestamptz is null or p.published_at <= %(as_of)s)
    order by pp.race_id, p.published_at desc, p.publication_id desc
)
select
    pp.race_id, pp.num_pmu, pp.probability, pp.p_model, pp.rank, pp.fair_odds, pp.market_odds,
    pp.market_prob, pp.market_served_at, pp.edge, pp.kelly_fraction, pp.p_place, pp.explanation,
    p.publication_id, p.published_at, p.trigger, r.race_start_at
from chosen
inner join modeling.published_predictions as pp
    on pp.publication_id = chosen.publication_id and pp.race_id = chosen.race_id
inner join modeling.publications as p on p.publication_id = chosen.publication_id
left join marts.race as r on r.race_id = pp.race_id
order by pp.race_id, pp.rank, pp.num_pmu
"""


def published_races(
    conn,
    model_id: int,
    day: dt.date,
    *,
    race_id: str | None = None,
    as_of: dt.datetime | None = None,
    now: dt.datetime,
) -> list[dict]:
    """One dict per race of the day: its publication (id, published_at, trigger), as_of (the latest
    market snapshot among its runners' inputs, else the publication time), staleness_ms at `now`,
    and its runners ranked."""
    if not _exists(conn, "modeling.published_predictions"):
        return []
    rows = _rows(
        conn, _LATEST_PER_RACE_SQL, {"model_id": model_id, "day": day, "race_id": race_id, "as_of": as_of}
    )
    races: dict[str, dict] = {}
    for row in rows:
        race = races.setdefault(
            row["race_id"],
            {
                "race_id": row["race_id"],
                "race_start_at": row["race_start_at"],
                "publication_id": row["publication_id"],
                "published_at": row["published_at"],
                "trigger": row["trigger"],
                "runners": [],
            },
        )
        race["runners"].append(
            {
                k: row[k]
                for k in (
                    "num_pmu",
                    "probability",
                    "p_model",
                    "rank",
                    "fair_odds",
                    "market_odds",
                    "market_prob",
                    "market_served_at",
                    "edge",
                    "kelly_fraction",
                    "p_place",
                    "explanation",
                )
            }
        )
    for race in races.values():
        served = [r["market_served_at"] for r in race["runners"] if r["market_served_at"] is not None]
        race["as_of"] = max(served) if served else race["published_at"]
        race["staleness_ms"] = int((now - race["as_of"]).total_seconds() * 1000)
    return list(races.values())


def publications(conn, model_id: int, day: dt.date, as_of: dt.datetime | None = None) -> list[dict]:
    if not _exists(conn, "modeling.publications"):
        return []
    return _rows(
        conn,
        "select publication_id, published_at, market_served_at, trigger, races, runners"
        " from modeling.publications where model_id = %(model_id)s and race_date = %(day)s"
        " and (%(as_of)s::timestamptz is null or published_at <= %(as_of)s)"
        " order by published_at, publication_id",
        {"model_id": model_id, "day": day, "as_of": as_of},
    )


def latest_published_day(conn, model_id: int) -> dt.date | None:
    if not _exists(conn, "modeling.publications"):
        return None
    return _rows(
        conn, "select max(race_date) as day from modeling.publications where model_id = %s", (model_id,)
    )[0]["day"]


# --- accuracy -------------------------------------------------------------------------------------


def accuracy(
    conn, model: dict | None, start: dt.date | None, end: dt.date | None, *, model_name: str | None = None
) -> list[dict]:
    """Rows of marts.ml_model_daily_accuracy, for one model version or every version of a name."""
    if not _exists(conn, "marts.ml_model_daily_accuracy"):
        return []
    return _rows(
        conn,
        "select * from marts.ml_model_daily_accuracy"
        " where (%(model_id)s::bigint is null or model_id = %(model_id)s)"
        " and (%(name)s::text is null or model_name = %(name)s)"
        " and (%(start)s::date is null or race_date >= %(start)s)"
        " and (%(end)s::date is null or race_date <= %(end)s)"
        " order by model_name, model_version, race_date",
        {"model_id": model["id"] if model else None, "name": model_name, "start": start, "end": end},
    )


def decided_publications(conn, model_id: int) -> list[dict]:
    """The runners of the model's last publication before each decided race's start, with the
    result: what the calibration curve and the cumulative ROI of the dashboard are drawn from (the
    rule of marts.ml_model_daily_accuracy)."""
    needed = ("modeling.published_predictions", "marts.race", "marts.fct_runner_result")
    if not all(_exists(conn, relation) for relation in needed):
        return []
    return _rows(
        conn,
        """
        with chosen as (
            select distinct on (pp.race_id) pp.race_id, p.publication_id
            from modeling.published_predictions as pp
            inner join modeling.publications as p on p.publication_id = pp.publication_id
            inner join marts.race as r on r.race_id = pp.race_id
            where p.model_id = %s and p.published_at < r.race_start_at
            order by pp.race_id, p.published_at desc, p.publication_id desc
        )
        select pp.race_id, r.race_date, r.race_start_at, pp.num_pmu, pp.probability, pp.rank,
            pp.market_odds, pp.market_prob, pp.edge, res.is_winner, res.final_odds
        from chosen
        inner join modeling.published_predictions as pp
            on pp.publication_id = chosen.publication_id and pp.race_id = chosen.race_id
        inner join marts.race as r on r.race_id = pp.race_id
        inner join marts.fct_runner_result as res on res.race_id = pp.race_id and res.num_pmu = pp.num_pmu
        where not res.is_non_runner and res.is_winner is not null
        order by r.race_start_at, pp.race_id, pp.num_pmu
        """,
        (model_id,),
    )
