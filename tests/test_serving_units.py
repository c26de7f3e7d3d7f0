"""The serving layer's small parts: race ids, stakes, chart maths, explanations, the dashboard's
baselines, and a server whose database is down (real uvicorn, real PostgreSQL)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import numpy as np
import psycopg
import pytest
import requests
from uvicorn_server import Server

from ml import registry
from ml.explain import top_contributions
from orchestration.ml_assets import publication_trigger
from pmu_core import db
from pmu_core.facts import KELLY_CAP, parse_race_id
from serving.app import create_app
from serving.cache import SharedLookups
from serving.dashboard import calibration_bins, cumulative_roi
from serving.queries import fractional_kelly
from serving.svg import Series, line_chart, nice_ticks, scale


def test_race_ids_parse_or_say_why():
    assert parse_race_id("2025-11-05-R1-C1") == dt.date(2025, 11, 5)
    assert parse_race_id("2025-11-05-R12-C10") == dt.date(2025, 11, 5)
    for bad in (
        "2025-11-05",
        "2025-11-05-R1",
        "2025-11-5-R1-C1",
        "2025-02-30-R1-C1",
        "x2025-11-05-R1-C1",
        "2025-11-05-R1-C1\n",
    ):
        with pytest.raises(ValueError, match="malformed race id"):
            parse_race_id(bad)


def test_fractional_kelly_is_capped_and_never_negative():
    # p = 0.3 at odds 5: full Kelly (1.5 - 1) / 4 = 0.125
    assert fractional_kelly(0.3, 5.0, 0.25) == pytest.approx(0.03125)
    assert fractional_kelly(0.3, 5.0, 1.0) == KELLY_CAP
    assert fractional_kelly(0.1, 5.0, 0.5) == 0.0  # no edge: no stake
    assert fractional_kelly(0.5, None, 0.5) == 0.0 and fractional_kelly(0.5, 1.0, 0.5) == 0.0


def test_ticks_and_scale():
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(-0.23, 0.31) == [-0.2, -0.1, 0.0, 0.1, 0.2, 0.3]
    assert nice_ticks(3, 3) == [3]
    to_pixels = scale(0, 10, 100, 0)  # y grows downwards
    assert to_pixels(0) == 100 and to_pixels(10) == 0 and to_pixels(2.5) == 75


def test_line_chart_draws_one_polyline_per_series_and_says_when_empty():
    svg = line_chart("t", [Series("a", [0, 1, 2], [1, 2, None]), Series("b", [0, 1], [3, 4])])
    assert svg.count('class="series"') == 2 and 'data-points="2"' in svg
    assert 'class="empty"' in line_chart("t", [Series("a", [], [])])


def test_calibration_bins_are_quantiles_of_p():
    p = np.array([0.1, 0.1, 0.2, 0.2, 0.9, 0.9])
    won = np.array([0, 0, 0, 1, 1, 1])
    means, rates = calibration_bins(p, won, bins=3)
    assert means == pytest.approx([0.1, 0.2, 0.9]) and rates == pytest.approx([0.0, 0.5, 1.0])


def test_cumulative_roi_of_value_bets_and_of_the_favourite():
    t0 = dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC)

    def runner(race, num, won, edge, market_prob, final_odds, minutes):
        return {
            "race_id": race,
            "num_pmu": num,
            "is_winner": won,
            "edge": edge,
            "market_prob": market_prob,
            "market_odds": final_odds,
            "final_odds": final_odds,
            "race_start_at": t0 + dt.timedelta(minutes=minutes),
        }

    rows = [
        # race B runs first: the value bet (no. 2) wins at 4.0, the favourite (no. 1) loses
        runner("B", 1, False, -0.2, 0.6, 1.5, 0),
        runner("B", 2, True, 0.3, 0.4, 4.0, 0),
        # race A: the value bet loses, the favourite wins at 2.0
        runner("A", 1, True, 0.0, 0.5, 2.0, 30),
        runner("A", 2, False, 0.1, 0.3, 3.0, 30),
    ]
    roi = cumulative_roi(rows)
    assert roi["value"] == pytest.approx([3.0, (3.0 - 1.0) / 2])
    assert roi["favourite"] == pytest.approx([-1.0, 0.0])


def test_top_contributions_by_absolute_size():
    out = top_contributions(np.array([1.0, np.nan, 3.0]), np.array([0.1, -0.5, 0.2]), ["a", "b", "c"], top=2)
    assert out == [
        {"feature": "b", "value": None, "contribution": -0.5},
        {"feature": "c", "value": 3.0, "contribution": 0.2},
    ]


def test_publication_trigger_names_the_run():
    assert publication_trigger(True, {"dagster/schedule_name": "morning_schedule"}) == "odds_moved"
    assert publication_trigger(False, {"dagster/schedule_name": "morning_schedule"}) == "morning"
    assert publication_trigger(False, {}) == "dagster"


class Warehouse:
    """A fetch whose answer is the warehouse's version when the fetch started, held until released."""

    def __init__(self):
        self.version = 0
        self.started: list[tuple] = []
        self.release = asyncio.Event()

    async def fetch(self, day: str):
        seen = self.version
        self.started.append((day, seen))
        await self.release.wait()
        if seen < 0:
            raise RuntimeError("database down")
        return (day, seen)


def test_shared_lookups_never_hand_out_a_lookup_begun_before_the_request():
    async def scenario():
        warehouse = Warehouse()
        shared = SharedLookups(warehouse.fetch)
        first = asyncio.create_task(shared.get("d1"))
        while not warehouse.started:  # the first fetch is on its way, at version 0
            await asyncio.sleep(0)
        warehouse.version = 1  # a publication commits
        later = [asyncio.create_task(shared.get("d1")) for _ in range(5)]
        other_day = asyncio.create_task(shared.get("d2"))
        while len(warehouse.started) < 2:
            await asyncio.sleep(0)
        warehouse.release.set()
        answers = await asyncio.gather(first, *later, other_day)
        return warehouse.started, answers

    started, answers = asyncio.run(scenario())
    # the five requests made during the first fetch share one fetch, begun after they asked
    assert answers == [("d1", 0)] + [("d1", 1)] * 5 + [("d2", 1)]
    assert started == [("d1", 0), ("d2", 1), ("d1", 1)]


def test_shared_lookups_pass_an_error_to_its_callers_only_and_outlive_a_cancelled_caller():
    async def scenario():
        warehouse = Warehouse()
        warehouse.version = -1
        shared = SharedLookups(warehouse.fetch)
        callers = [asyncio.create_task(shared.get("d1")) for _ in range(2)]
        while not warehouse.started:
            await asyncio.sleep(0)
        callers[1].cancel()  # a client that went away
        warehouse.release.set()
        failed = await asyncio.gather(*callers, return_exceptions=True)
        warehouse.version = 2  # the database is back: the next request fetches afresh
        return failed, await shared.get("d1")

    failed, recovered = asyncio.run(scenario())
    assert isinstance(failed[0], RuntimeError) and "database down" in str(failed[0])
    assert isinstance(failed[1], asyncio.CancelledError)
    assert recovered == ("d1", 2)


def test_a_database_that_is_down_gives_503_and_the_server_keeps_running(databases):
    unreachable = "postgresql://pmu@127.0.0.1:1/pmu?connect_timeout=1"
    with Server(create_app(unreachable)) as base:
        for path in ("/health", "/predict/today", "/predict/race/2025-11-05-R1-C1", "/models"):
            answer = requests.get(f"{base}{path}", timeout=20)
            assert answer.status_code == 503, path
            assert "unavailable" in answer.text
        assert requests.get(f"{base}/docs", timeout=10).status_code == 200  # still serving

    # a database that goes away under a running server, then comes back (empty)
    name, url = databases.create()
    registry.ensure_tables(url)
    with Server(create_app(url)) as base:
        assert requests.get(f"{base}/models", timeout=10).json() == []
        databases.drop(name)
        assert requests.get(f"{base}/models", timeout=20).status_code == 503
        db.recreate_database(name, databases.server_url)
        databases.names.add(name)
        deadline = time.monotonic() + 30
        while (answer := requests.get(f"{base}/models", timeout=20)).status_code == 503:
            assert time.monotonic() < deadline, "the pool did not reconnect"
            time.sleep(0.5)
        assert answer.status_code == 200 and answer.json() == []


# --- the cache of published days ------------------------------------------------------------------

CACHED_DAY = dt.date(2025, 11, 5)
CACHED_RACE = "2025-11-05-R1-C1"
SEQUENCE = "modeling.publications_publication_id_seq"


def publish(url: str, model_id: int, at: dt.datetime, probabilities: list[float], publication_id=None) -> int:
    """A publication of CACHED_RACE with these win probabilities (saddle numbers 1, 2, ...), its
    market served an hour before; `publication_id` forces the id (a run that commits late)."""
    served = at - dt.timedelta(hours=1)
    with psycopg.connect(url) as conn:
        (pid,) = conn.execute(
            "insert into modeling.publications (publication_id, model_id, model_name, model_version,"
            " race_date, published_at, market_served_at, trigger, races, runners)"
            " overriding system value"
            " values (coalesce(%s, nextval(%s::regclass)),"
            " %s, 'm', 1, %s, %s, %s, 'manual', 1, %s) returning publication_id",
            (publication_id, SEQUENCE, model_id, CACHED_DAY, at, served, len(probabilities)),
        ).fetchone()
        ranked = sorted(probabilities, reverse=True)
        for num, p in enumerate(probabilities, start=1):
            conn.execute(
                "insert into modeling.published_predictions (publication_id, race_id, num_pmu, probability,"
                " rank, fair_odds, market_odds, market_served_at, edge, kelly_fraction)"
                " values (%s, %s, %s, %s, %s, %s, 3.0, %s, %s, 0)",
                (pid, CACHED_RACE, num, p, ranked.index(p) + 1, 1 / p, served, 3.0 * p - 1),
            )
    return pid


def test_the_cached_day_follows_each_new_publication_and_the_clock(databases):
    name, url = databases.create()
    registry.ensure_tables(url)
    start = dt.datetime(2025, 11, 5, 13, 0, tzinfo=dt.UTC)
    with psycopg.connect(url) as conn:
        conn.execute(
            "create table marts.race (race_id text primary key, race_date date, race_start_at timestamptz)"
        )
        conn.execute("insert into marts.race values (%s, %s, %s)", (CACHED_RACE, CACHED_DAY, start))
        (model_id,) = conn.execute(
            "insert into modeling.models (name, version, kind, feature_hash, features, params,"
            " artifact_path, status) values ('m', 1, 'condlogit', 'h', '[]', '{}', '/nowhere',"
            " 'production') returning id"
        ).fetchone()
    morning = publish(url, model_id, start - dt.timedelta(hours=4), [0.6, 0.4])
    now = [start - dt.timedelta(hours=2)]
    app = create_app(url, today=CACHED_DAY, clock=lambda: now[0])
    with Server(app) as base:

        def race() -> dict:
            return requests.get(f"{base}/predict/race/{CACHED_RACE}", timeout=10).json()

        def today() -> dict:
            return requests.get(f"{base}/predict/today", timeout=10).json()["races"][0]

        first = race()
        assert first["publication_id"] == morning and [r["probability"] for r in first["runners"]] == [
            0.6,
            0.4,
        ]
        assert first["staleness_ms"] == 3 * 3600 * 1000  # the market was served at 08:00, now 11:00
        now[0] += dt.timedelta(seconds=90)
        later = race()
        # the same publication, from the cache, but its age is that of the answer
        assert later["staleness_ms"] == first["staleness_ms"] + 90_000
        assert {k: v for k, v in later.items() if k != "staleness_ms"} == {
            k: v for k, v in first.items() if k != "staleness_ms"
        }
        assert today() == later

        # a re-score: the next request serves it; a slower run took the id before it (committed below)
        with psycopg.connect(url) as conn:
            (slow_id,) = conn.execute("select nextval(%s)", (SEQUENCE,)).fetchone()
        moved = publish(url, model_id, start - dt.timedelta(minutes=30), [0.3, 0.7])
        assert race()["publication_id"] == moved and [r["num_pmu"] for r in race()["runners"]] == [2, 1]
        assert today()["publication_id"] == moved
        signals = requests.get(f"{base}/signals", params={"min_edge": 0}, timeout=10).json()["signals"]
        assert [(s["publication_id"], s["num_pmu"]) for s in signals] == [(moved, 2)]  # 0.7 × 3 - 1

        # a run that took an id below the latest but committed after it (and published later): the
        # latest id is the same, the count is not
        late = publish(url, model_id, start - dt.timedelta(minutes=10), [0.5, 0.5], publication_id=slow_id)
        assert late < moved and race()["publication_id"] == late
    databases.drop(name)
