"""The bets ledger (modeling.bets): record manual bets and paper bets of a strategy, settle them on
PMU's official dividends (marts.bet_report), list them. `pmu bets add|list|settle|paper` call these.

A bet names the publication it came from by model and as_of = the scored_at of its rows in
modeling.predictions; a paper bet only uses a publication made before the race's start."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pmu_core import db
from pmu_core.facts import DEFAULT_MIN_EDGE, KELLY_CAP, bet_rule


class BetError(ValueError):
    """A bet that cannot be recorded: nothing is written."""


@dataclass(frozen=True)
class BetRequest:
    race_id: str
    bet_type: str
    combination: tuple[int, ...]
    stake: float
    odds_seen: float | None = None  # the win odds or probable dividend seen when betting
    placed_at: dt.datetime | None = None  # default: now


def _ensure(db_url: str | None) -> None:
    from ml import registry

    registry.ensure_tables(db_url)


def _race(cur, race_id: str) -> tuple[dt.date, dt.datetime | None, bool]:
    cur.execute("select to_regclass('marts.race') is not null")
    if not cur.fetchone()[0]:
        raise BetError("marts.race does not exist: build the warehouse first (dbt build)")
    cur.execute(
        "select race_date, race_start_at, is_cancelled from marts.race where race_id = %s", (race_id,)
    )
    row = cur.fetchone()
    if row is None:
        raise BetError(f"unknown race {race_id!r}")
    return row[0], row[1], bool(row[2])


def _publication_before(cur, race_id: str, moment: dt.datetime):
    """(model_id, model_name, model_version, scored_at, market_served_at) of the latest publication
    of the race made at or before `moment`, or None."""
    cur.execute(
        "select model_id, model_name, model_version, max(scored_at), max(market_served_at)"
        " from modeling.predictions where race_id = %s and scored_at <= %s"
        " group by model_id, model_name, model_version order by max(scored_at) desc limit 1",
        (race_id, moment),
    )
    return cur.fetchone()


def add_bet(db_url: str | None, bet: BetRequest, *, now: dt.datetime | None = None) -> int:
    """Validate and record a manual bet; its id. BetError (nothing written) on an unknown race or
    bet type, horses not in the field, a stake ≤ 0, or a bet at or after the start."""
    from ml import finishing
    from pipeline.pricing import PricingError, latest_publication, price_combination

    try:
        rule = bet_rule(bet.bet_type)
    except ValueError as exc:
        raise BetError(str(exc)) from None
    if not bet.stake > 0:
        raise BetError(f"the stake must be above 0, not {bet.stake}")
    placed_at = bet.placed_at or now or dt.datetime.now(dt.UTC)
    if placed_at.tzinfo is None:
        raise BetError("the time of a bet needs its time zone")
    _ensure(db_url)
    with db.connection(db_url) as conn, conn.cursor() as cur:
        race_date, start, cancelled = _race(cur, bet.race_id)
        if start is not None and placed_at >= start:
            raise BetError(
                f"race {bet.race_id} started at {start.isoformat()}: "
                f"a bet at {placed_at.isoformat()} is too late"
            )
        cur.execute(
            "select num_pmu from marts.race_participant"
            " where race_id = %s and not coalesce(is_non_runner, false)",
            (bet.race_id,),
        )
        field = {int(r[0]) for r in cur.fetchall()}
        missing = [h for h in bet.combination if h not in field]
        if missing:
            raise BetError(
                f"horse(s) {missing} not in the field of {bet.race_id} ({', '.join(map(str, sorted(field)))})"
            )
        try:
            finishing.check_combination(rule, list(range(len(bet.combination))), len(field))
        except ValueError as exc:
            raise BetError(str(exc)) from None
        publication = _publication_before(cur, bet.race_id, placed_at)
    probability = None
    if publication is not None:
        try:
            priced = price_combination(
                latest_publication(db_url, bet.race_id, f"{publication[1]}@{publication[2]}"),
                rule.code,
                bet.combination,
            )
            probability = sum(r["probability"] for r in priced["ranks"])
        except PricingError:
            probability = None
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            """
            insert into modeling.bets (placed_at, race_id, race_date, bet_type, combination, stake,
                odds_seen, probability, model_id, model_name, model_version, as_of, market_served_at,
                source)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'manual') returning id
            """,
            (
                placed_at,
                bet.race_id,
                race_date,
                rule.code,
                "-".join(str(h) for h in bet.combination),
                float(bet.stake),
                bet.odds_seen,
                probability,
                *(publication or (None, None, None, None, None)),
            ),
        )
        return int(cur.fetchone()[0])


def paper_trade(
    db_url: str | None,
    *,
    strategy: str = "value",
    min_edge: float = DEFAULT_MIN_EDGE,
    kelly: float = 0.25,
    bankroll: float = 1000.0,
    days: Sequence[dt.date] | None = None,
    backtest: bool = False,
) -> dict:
    """Record each publication's value bets (win bets with edge p·odds − 1 > min_edge) as paper bets,
    staked at `kelly` × the Kelly fraction of `bankroll` (capped at KELLY_CAP), once per
    publication: rerunning adds nothing. Only publications made before the race's start count.
    `backtest`: days scored after the fact (a replay) count a publication as made when the market
    snapshot it used was served (its latest information), which must still precede the start."""
    if strategy != "value":
        raise BetError(f"unknown strategy {strategy!r}; known: value")
    if not bankroll > 0 or not kelly > 0:
        raise BetError("bankroll and kelly must be above 0")
    _ensure(db_url)
    label = f"value:edge>{min_edge:g}:kelly={kelly:g}:bankroll={bankroll:g}" + (
        ":backtest" if backtest else ""
    )
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('marts.race') is not null")
        if not cur.fetchone()[0]:
            raise BetError("marts.race does not exist: build the warehouse first (dbt build)")
        cur.execute(
            """
            with published as (
                select p.*, case when %(backtest)s then p.market_served_at else p.scored_at end as known_at
                from modeling.predictions as p
            ),

            candidates as (
                select p.*, least(%(cap)s, %(kelly)s * (p.probability * p.market_odds - 1)
                    / (p.market_odds - 1)) as fraction
                from published as p
                inner join marts.race as r on r.race_id = p.race_id
                where p.market_odds > 1 and p.edge > %(edge)s
                  and r.race_start_at is not null and p.known_at < r.race_start_at
                  and (%(days)s::date[] is null or p.race_date = any(%(days)s::date[]))
            )
            insert into modeling.bets (placed_at, race_id, race_date, bet_type, combination, stake,
                odds_seen, probability, model_id, model_name, model_version, as_of, market_served_at,
                source, strategy)
            select known_at, race_id, race_date, 'SIMPLE_GAGNANT', num_pmu::text,
                round((%(bankroll)s * fraction)::numeric, 2)::double precision, market_odds,
                probability, model_id, model_name, model_version, scored_at, market_served_at,
                'paper', %(label)s
            from candidates
            where round((%(bankroll)s * fraction)::numeric, 2) > 0
            on conflict (strategy, model_id, as_of, race_id, bet_type, combination)
                where source = 'paper' do nothing
            """,
            {
                "cap": KELLY_CAP,
                "kelly": kelly,
                "edge": min_edge,
                "bankroll": bankroll,
                "label": label,
                "days": list(days) if days else None,
                "backtest": backtest,
            },
        )
        inserted = cur.rowcount
    return {"strategy": label, "bets_recorded": int(inserted)}


def settle_bets(db_url: str | None, *, now: dt.datetime | None = None) -> dict:
    """Settle every open bet whose race has official rows for its bet type (or was cancelled):
    won / lost / refunded, the return, and for win bets the closing-line value against the final
    odds. A bet without a dividend yet stays open for a later run."""
    from ml.settlement import DividendRow, parse_combination, settle

    _ensure(db_url)
    now = now or dt.datetime.now(dt.UTC)
    counts = {"won": 0, "lost": 0, "refunded": 0, "still_open": 0}
    with db.connection(db_url) as conn, conn.cursor() as cur:
        for table in ("marts.race", "marts.bet_report", "marts.race_participant"):
            cur.execute("select to_regclass(%s) is not null", (table,))
            if not cur.fetchone()[0]:
                raise BetError(f"{table} does not exist: build the warehouse first (dbt build)")
        cur.execute(
            "select b.id, b.race_id, b.bet_type, b.combination, b.stake, b.odds_seen, r.is_cancelled"
            " from modeling.bets as b left join marts.race as r on r.race_id = b.race_id"
            " where b.status = 'open' order by b.id"
        )
        for bet_id, race_id, bet_type, combination, stake, odds_seen, cancelled in cur.fetchall():
            rule = bet_rule(bet_type)
            chosen = parse_combination(combination)
            cur.execute(
                "select label, combination, dividend_per_eur::double precision, is_refunded"
                " from marts.bet_report where race_id = %s and bet_type = %s",
                (race_id, bet_type),
            )
            rows = cur.fetchall()
            if not rows and not cancelled:
                counts["still_open"] += 1
                continue
            cur.execute(
                "select num_pmu, coalesce(is_non_runner, false), final_odds::double precision"
                " from marts.race_participant where race_id = %s",
                (race_id,),
            )
            runners = cur.fetchall()
            non_runners = {int(n) for n, nr, _ in runners if nr}
            final_odds = {int(n): o for n, _, o in runners}
            official = []
            for label, combo, dividend, _ in rows:
                try:
                    official.append(DividendRow(label, parse_combination(combo), float(dividend)))
                except (ValueError, TypeError):
                    continue
            result = settle(
                rule,
                chosen,
                official,
                refunded=bool(cancelled) or any(bool(r[3]) for r in rows),
                non_runners=non_runners,
            )
            closing = final_odds.get(chosen[0]) if rule.code == "SIMPLE_GAGNANT" else None
            clv = (odds_seen / closing - 1.0) if odds_seen and closing and closing > 1 else None
            cur.execute(
                "update modeling.bets set status = %s, paid_label = %s, dividend_per_eur = %s,"
                " return_amount = %s, closing_odds = %s, clv = %s, settled_at = %s where id = %s",
                (
                    result.status,
                    result.label,
                    result.return_per_eur if result.status == "won" else None,
                    float(stake) * result.return_per_eur,
                    closing,
                    clv,
                    now,
                    bet_id,
                ),
            )
            counts[result.status] += 1
    return counts


def list_bets(
    db_url: str | None, *, status: str | None = None, race_date: dt.date | None = None
) -> list[dict]:
    _ensure(db_url)
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "select * from modeling.bets where (%(status)s::text is null or status = %(status)s)"
            " and (%(day)s::date is null or race_date = %(day)s) order by placed_at, id",
            {"status": status, "day": race_date},
        )
        columns = [d.name for d in cur.description]
        return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
