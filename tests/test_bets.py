"""The bets ledger on a real day: 05/11/2025 landed through the extractor from the recorded bodies,
the core marts built by dbt, bets settled on the real rapports of R1C1 (arrival 7-3-9-13),
worked by hand from the body; bad bets refused with nothing written; paper trading idempotent and
point in time."""

from __future__ import annotations

import datetime as dt

import pytest

from extract.client import ClientConfig
from extract.ingest import ingest_day
from ml import registry
from pipeline.bets import BetError, BetRequest, add_bet, list_bets, paper_trade, settle_bets
from pmu_cli.main import main
from pmu_core import db, dbt
from pmu_core.replay_server import ReplayServerThread

pytestmark = pytest.mark.slow

DAY = dt.date(2025, 11, 5)
RACE = "2025-11-05-R1-C1"  # rapports recorded
NO_RAPPORTS = "2025-11-05-R1-C2"  # no rapports recorded: bets stay open


@pytest.fixture(scope="module")
def warehouse(shared_pmu, databases, tmp_path_factory):
    name, url = databases.create("t_bets")
    with ReplayServerThread(shared_pmu / "replay") as server:
        ingest_day(DAY, config=ClientConfig(base_url=server.base_url, requests_per_second=None), db_url=url)
    dbt.run_dbt(
        url,
        "run",
        "--select",
        "+race",
        "+race_participant",
        "+bet_report",
        target_dir=tmp_path_factory.mktemp("dbt"),
    )
    registry.ensure_tables(url)
    yield url
    databases.drop(name)


@pytest.fixture
def ledger(warehouse):
    with db.connection(warehouse) as conn, conn.cursor() as cur:
        cur.execute("delete from modeling.bets")
        cur.execute("delete from modeling.predictions")
        cur.execute("delete from modeling.models")
    return warehouse


def _start(url, race_id) -> dt.datetime:
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute("select race_start_at from marts.race where race_id = %s", (race_id,))
        return cur.fetchone()[0]


def _count(url) -> int:
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from modeling.bets")
        return cur.fetchone()[0]


# (bet type, combination, stake, status, return) by hand from rapports-definitifs of 05112025 R1C1
SETTLED = [
    ("SIMPLE_GAGNANT", (7,), 2.0, "won", 2 * 3.10),
    ("SIMPLE_PLACE", (9,), 4.0, "won", 4 * 2.40),
    ("SIMPLE_PLACE", (13,), 4.0, "lost", 0.0),  # fourth of 14: not placed
    ("COUPLE_GAGNANT", (3, 7), 2.0, "won", 2 * 13.20),
    ("COUPLE_PLACE", (9, 3), 2.0, "won", 2 * 8.10),
    ("DEUX_SUR_QUATRE", (13, 9), 3.0, "won", 3 * 5.00),
    ("TRIO", (9, 7, 3), 1.0, "won", 36.10),
    ("MULTI", (7, 3, 9, 13, 5), 3.0, "won", 3 * 92.40),  # Multi en 5
    ("TRIO", (7, 3, 5), 1.0, "lost", 0.0),
]


def test_settlement_of_each_bet_type_by_hand(ledger):
    before = _start(ledger, RACE) - dt.timedelta(minutes=30)
    ids = {}
    for code, combination, stake, _, _ in SETTLED:
        ids[(code, combination)] = add_bet(
            ledger, BetRequest(RACE, code, combination, stake, placed_at=before)
        )
    open_id = add_bet(
        ledger,
        BetRequest(
            NO_RAPPORTS,
            "SIMPLE_GAGNANT",
            (1,),
            1.0,
            placed_at=_start(ledger, NO_RAPPORTS) - dt.timedelta(hours=1),
        ),
    )
    counts = settle_bets(ledger)
    assert counts == {"won": 7, "lost": 2, "refunded": 0, "still_open": 1}
    bets = {b["id"]: b for b in list_bets(ledger)}
    for code, combination, _, status, back in SETTLED:
        bet = bets[ids[(code, combination)]]
        assert (bet["status"], bet["return_amount"]) == (status, pytest.approx(back)), (code, combination)
    assert bets[open_id]["status"] == "open"
    # a later run settles nothing twice and leaves the open bet open
    assert settle_bets(ledger) == {"won": 0, "lost": 0, "refunded": 0, "still_open": 1}


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (BetRequest("2025-11-05-R99-C1", "SIMPLE_GAGNANT", (1,), 2.0), "unknown race"),
        (BetRequest(RACE, "SIMPLE_GAGNANT", (42,), 2.0), "not in the field"),
        (BetRequest(RACE, "SIMPLE_GAGNANT", (7,), 0.0), "above 0"),
        (BetRequest(RACE, "TRIO", (7, 3), 2.0), "takes 3 horses"),
        (BetRequest(RACE, "PICK9", (7,), 2.0), "unknown bet type"),
    ],
)
def test_bad_bets_write_nothing(ledger, request_, message):
    early = _start(ledger, RACE) - dt.timedelta(hours=1)
    bet = BetRequest(**{**request_.__dict__, "placed_at": early})
    with pytest.raises(BetError, match=message):
        add_bet(ledger, bet)
    assert _count(ledger) == 0


def test_a_bet_after_the_start_is_refused(ledger, capsys, monkeypatch):
    late = _start(ledger, RACE) + dt.timedelta(seconds=1)
    with pytest.raises(BetError, match="too late"):
        add_bet(ledger, BetRequest(RACE, "SIMPLE_GAGNANT", (7,), 2.0, placed_at=late))
    monkeypatch.setenv("PMU_DATABASE_URL", ledger)
    code = main(["bets", "add", "--race", RACE, "--bet", "SIMPLE_GAGNANT", "--combo", "7", "--stake", "2"])
    assert code == 2 and "too late" in capsys.readouterr().err  # now is long after the race
    assert _count(ledger) == 0


def _publish(url, scored_at, rows, market_served_at=None):
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute(
            "insert into modeling.models (name, version, kind, feature_hash, features, params, artifact_path)"
            " values ('win_lgbm', 1, 'lgbm', 'h', '[]', '{}', '/nowhere') on conflict do nothing"
        )
        cur.execute("select id from modeling.models where name = 'win_lgbm'")
        model_id = cur.fetchone()[0]
        for race_id, num, p, odds in rows:
            cur.execute(
                "insert into modeling.predictions (model_id, model_name, model_version, race_id, race_date,"
                " num_pmu, probability, rank, fair_odds, market_odds, edge, scored_at, market_served_at)"
                " values (%s, 'win_lgbm', 1, %s, %s, %s, %s, 1, %s, %s, %s, %s, %s)",
                (model_id, race_id, DAY, num, p, 1 / p, odds, p * odds - 1, scored_at, market_served_at),
            )


def test_paper_trading_is_idempotent_and_point_in_time(ledger, capsys, monkeypatch):
    start = _start(ledger, RACE)
    # R1C1 published an hour before its start: horse 7 at 0.40 with odds 3.0 (edge 0.20), horse 3 no edge
    _publish(ledger, start - dt.timedelta(hours=1), [(RACE, 7, 0.40, 3.0), (RACE, 3, 0.20, 4.0)])
    # R1C2 published only after its start (on a market snapshot of 10 min before): never a paper bet,
    # except in a backtest
    c2_start = _start(ledger, NO_RAPPORTS)
    _publish(
        ledger,
        c2_start + dt.timedelta(minutes=5),
        [(NO_RAPPORTS, 1, 0.5, 3.0)],
        market_served_at=c2_start - dt.timedelta(minutes=10),
    )
    out = paper_trade(ledger, min_edge=0.05, kelly=0.25, bankroll=1000)
    assert out["bets_recorded"] == 1
    (bet,) = list_bets(ledger)
    # Kelly: (0.4·3 − 1)/(3 − 1) = 0.10, a quarter of it = 0.025 of 1000
    assert (bet["race_id"], bet["combination"], bet["stake"], bet["source"]) == (RACE, "7", 25.0, "paper")
    assert bet["as_of"] == start - dt.timedelta(hours=1) and bet["model_name"] == "win_lgbm"
    assert paper_trade(ledger, min_edge=0.05, kelly=0.25, bankroll=1000)["bets_recorded"] == 0
    monkeypatch.setenv("PMU_DATABASE_URL", ledger)
    assert main(["bets", "paper", "--min-edge", "0.05", "--kelly", "0.25", "--bankroll", "1000"]) == 1
    assert "no new value bet" in capsys.readouterr().out
    assert _count(ledger) == 1
    assert main(["bets", "settle"]) == 0
    (bet,) = list_bets(ledger)
    assert bet["status"] == "won" and bet["return_amount"] == pytest.approx(25.0 * 3.10)
    # closing-line value: taken at 3.0 against the final odds
    assert bet["clv"] == pytest.approx(3.0 / bet["closing_odds"] - 1)
    # a backtest dates the late R1C2 publication by its market snapshot, before the start: its bet
    # counts (R1C1's has no market time: left out), under its own strategy name
    out = paper_trade(ledger, min_edge=0.05, kelly=0.25, bankroll=1000, backtest=True)
    assert out["bets_recorded"] == 1 and out["strategy"].endswith(":backtest")
    late = [b for b in list_bets(ledger) if b["strategy"] == out["strategy"]]
    assert [(b["race_id"], b["placed_at"]) for b in late] == [
        (NO_RAPPORTS, c2_start - dt.timedelta(minutes=10))
    ]


def test_pnl_mart_from_the_ledger(ledger, tmp_path):
    before = _start(ledger, RACE) - dt.timedelta(minutes=30)
    add_bet(ledger, BetRequest(RACE, "SIMPLE_PLACE", (9,), 4.0, placed_at=before))  # pays 4 · 2.40
    add_bet(ledger, BetRequest(RACE, "SIMPLE_PLACE", (13,), 6.0, placed_at=before))  # lost
    add_bet(ledger, BetRequest(RACE, "TRIO", (9, 7, 3), 1.0, placed_at=before))  # pays 36.10
    add_bet(
        ledger,
        BetRequest(
            NO_RAPPORTS,
            "SIMPLE_PLACE",
            (1,),
            2.0,
            placed_at=_start(ledger, NO_RAPPORTS) - dt.timedelta(hours=1),
        ),
    )
    settle_bets(ledger)
    dbt.run_dbt(ledger, "build", "--select", "ml_bets_pnl", target_dir=tmp_path)
    with db.connection(ledger) as conn, conn.cursor() as cur:
        cur.execute(
            "select bet_type, bets, open_bets, stakes, paid_back, profit, roi, drawdown"
            " from marts.ml_bets_pnl where strategy = 'manual' order by bet_type"
        )
        rows = {r[0]: r[1:] for r in cur.fetchall()}
    bets, open_bets, stakes, back, profit, roi, drawdown = rows["SIMPLE_PLACE"]
    assert (bets, open_bets) == (3, 1)
    assert (stakes, back) == (pytest.approx(10.0), pytest.approx(9.6))
    assert profit == pytest.approx(-0.4) and roi == pytest.approx(-0.04)
    assert drawdown == pytest.approx(0.4)  # below the starting level of 0
    assert rows["TRIO"][4] == pytest.approx(35.1)
