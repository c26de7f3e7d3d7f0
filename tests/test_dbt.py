"""The dbt warehouse on the real recorded days: land them through the real extractor over HTTP
(replay server), run `dbt build`, and check the core tables against facts computed here straight
from the JSON files (counts) and against third-party finishing orders (`oracles/`)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date
from pathlib import Path

import pytest

from extract.client import ClientConfig
from extract.ingest import ingest_day
from pmu_core import db, dbt
from pmu_core.replay_server import ReplayServerThread

pytestmark = pytest.mark.slow  # builds a warehouse from the real days: not in the fast tier

# The dbt models of this area; feature and ML marts have their own tests.
DBT_SELECT = [
    "path:models/staging",
    "path:models/intermediate/int_runner_results.sql",
    "path:models/intermediate/int_runner_odds.sql",
    "path:models/marts/core",
]
# A build of this area runs a test only when it makes every model the test reads (the statistics
# marts' links to the core dimensions wait for a build that makes the statistics too).
AREA_TESTS_ONLY = ("--indirect-selection", "cautious")
CORE_TABLES = (
    "daily_program",
    "race_meeting",
    "race",
    "race_participant",
    "horse",
    "pedigree",
    "jockey",
    "trainer",
    "owner",
    "breeder",
    "horse_race_history",
    "race_bet",
    "bet_report",
)
SNAPSHOT_DAY = "05112025"


# ---- facts from the JSON files, independent of the warehouse ---------------------------------


def replay_days(replay: Path) -> list[str]:
    """DDMMYYYY of every day whose programme was recorded."""
    return sorted(p.stem for p in replay.glob("[0-9]" * 8 + ".json"))


def day_of(ddmmyyyy: str) -> date:
    return date(int(ddmmyyyy[4:]), int(ddmmyyyy[2:4]), int(ddmmyyyy[:2]))


def programme_of(path: Path) -> dict:
    body = json.loads(path.read_text())
    return body.get("programme", body)


def json_counts(replay: Path, day: str) -> dict[str, int]:
    """Meetings, races, cancelled races, declared runners and non-runners of a day, counting only
    the participants of races its programme lists (the extractor fetches nothing else)."""
    programme = programme_of(replay / f"{day}.json")
    counts = {"meetings": 0, "races": 0, "cancelled": 0, "runners": 0, "non_runners": 0}
    for meeting in programme["reunions"]:
        counts["meetings"] += 1
        for race in meeting["courses"]:
            counts["races"] += 1
            counts["cancelled"] += race["statut"] == "COURSE_ANNULEE"
            path = replay / day / f"R{meeting['numOfficiel']}" / f"C{race['numOrdre']}" / "participants.json"
            if path.exists():
                runners = json.loads(path.read_text())["participants"]
                counts["runners"] += len(runners)
                counts["non_runners"] += sum(r["statut"] == "NON_PARTANT" for r in runners)
    return counts


def race_id_of(day: str, meeting: str, race: str) -> str:
    """'05112025', 'R1', 'C2' -> '2025-11-05-R1-C2'."""
    return f"{day_of(day).isoformat()}-{meeting}-{race}"


# ---- the warehouse, built once for the module ------------------------------------------------


def run_dbt(env: dict[str, str], tmp: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    # Own target/log folders: other people may run dbt in the same checkout at the same time.
    return dbt.run_dbt(env["PMU_DATABASE_URL"], *args, target_dir=tmp, check=check)


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent digest of every core table."""
    out = {}
    for table in CORE_TABLES:
        rows = query(
            url,
            "select count(*), "
            "coalesce(md5(string_agg(md5(t::text), '' order by md5(t::text))), '') "
            f"from marts.{table} as t",
        )  # table names are constants of this file
        out[table] = rows[0]
    return out


@pytest.fixture(scope="module")
def warehouse(shared_pmu, databases, tmp_path_factory):
    """A fresh database with every real replay day (and the 08:55 odds snapshot of 05/11/2025)
    landed through the extractor, and the warehouse built by `dbt build`."""
    name, url = databases.create("t_dbt")
    tmp = tmp_path_factory.mktemp("dbt")
    env = {
        **os.environ,
        **db.dbt_env(url),
        "PMU_DATABASE_URL": url,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    replay = shared_pmu / "replay"
    try:
        with ReplayServerThread(replay) as server:
            config = ClientConfig(base_url=server.base_url, requests_per_second=None)
            for day in replay_days(replay):
                ingest_day(day_of(day), config=config, db_url=url)
        with ReplayServerThread(shared_pmu / "snapshots" / "0855") as server:
            config = ClientConfig(base_url=server.base_url, requests_per_second=None)
            ingest_day(day_of(SNAPSHOT_DAY), config=config, db_url=url, only=["participants"])
        run_dbt(env, tmp, "build", "--select", *DBT_SELECT, *AREA_TESTS_ONLY)
        yield {"url": url, "env": env, "tmp": tmp, "replay": replay, "shared": shared_pmu}
    finally:
        # a fresh connection: one held idle through the module's minutes of dbt may be gone
        databases.drop(name)


# ---- tests -----------------------------------------------------------------------------------


def test_counts_match_the_json_files(warehouse):
    url, replay = warehouse["url"], warehouse["replay"]
    days = replay_days(replay)
    assert {"01012018", "01012021", "26102025"} <= set(days)
    for day in days:
        expected = json_counts(replay, day)
        race_date = day_of(day)
        ((meetings,),) = query(
            url, "select count(*) from marts.race_meeting where race_date = %s", (race_date,)
        )
        ((races, cancelled),) = query(
            url,
            "select count(*), count(*) filter (where is_cancelled) from marts.race where race_date = %s",
            (race_date,),
        )
        ((runners, non_runners),) = query(
            url,
            "select count(*), count(*) filter (where is_non_runner) from marts.race_participant "
            "where race_date = %s",
            (race_date,),
        )
        ((programme_races,),) = query(
            url, "select races from marts.daily_program where race_date = %s", (race_date,)
        )
        actual = {
            "meetings": meetings,
            "races": races,
            "cancelled": cancelled,
            "runners": runners,
            "non_runners": non_runners,
        }
        assert actual == expected, day
        assert programme_races == expected["races"], day


def test_finishing_orders_match_the_oracles(warehouse):
    """Oracles list each race's arrival (sometimes only the first 3-5, sometimes nothing): the
    warehouse's order of placed runners must start with it."""
    url = warehouse["url"]
    checked = 0
    for path in sorted((warehouse["shared"] / "oracles").glob("arrivals-*.json")):
        for entry in json.loads(path.read_text()):
            for race in entry["courses"]:
                if not race["arrivee"]:
                    continue
                race_id = race_id_of(entry["date"], race["reunion"], race["course"])
                order = [
                    n
                    for (n,) in query(
                        url,
                        "select num_pmu from marts.race_participant where race_id = %s "
                        "and finish_place is not null order by finish_place, num_pmu",
                        (race_id,),
                    )
                ]
                assert order[: len(race["arrivee"])] == race["arrivee"], race_id
                checked += 1
    assert checked > 150


def test_dead_heat_shares_a_place_and_skips_the_next(warehouse):
    # 26/10/2025 R1C9: ordreArrivee [[7], [3], [2, 11], [4], ...]
    rows = dict(
        query(
            warehouse["url"],
            "select num_pmu, finish_place from marts.race_participant "
            "where race_id = '2025-10-26-R1-C9' and num_pmu in (7, 3, 2, 11, 4)",
        )
    )
    assert rows == {7: 1, 3: 2, 2: 3, 11: 3, 4: 5}
    ((dead_heats,),) = query(
        warehouse["url"],
        "select count(*) from marts.race_participant where race_id = '2025-10-26-R1-C9' and is_dead_heat",
    )
    assert dead_heats == 2


def test_winners_and_non_runners(warehouse):
    url = warehouse["url"]
    # a non-runner never has a place and never wins
    ((bad,),) = query(
        url,
        "select count(*) from marts.race_participant where is_non_runner "
        "and (finish_place is not null or is_winner)",
    )
    assert bad == 0
    # every race with a result has at least one winner unless its winner was disqualified
    ((no_winner,),) = query(
        url,
        """
        select count(*) from marts.race as r where r.has_result and not exists (
            select 1 from marts.race_participant as p where p.race_id = r.race_id and p.is_winner)
        and exists (select 1 from marts.race_participant as p where p.race_id = r.race_id)""",
    )
    assert no_winner == 0


def test_dst_day_keeps_every_race_on_its_paris_day(warehouse):
    rows = query(
        warehouse["url"],
        "select race_date, (race_start_at at time zone 'Europe/Paris')::date, count(*) "
        "from marts.race where race_date = '2025-10-26' group by 1, 2",
    )
    assert rows == [(date(2025, 10, 26), date(2025, 10, 26), 111)]


def test_old_schema_days_build_with_nulls(warehouse):
    url = warehouse["url"]
    ((races_2018, races_2021),) = query(
        url,
        "select count(*) filter (where race_date = '2018-01-01'), "
        "count(*) filter (where race_date = '2021-01-01') from marts.race",
    )
    assert (races_2018, races_2021) == (36, 24)
    horses = query(
        url,
        "select h.horse_key, h.horse_id_pmu from marts.race_participant as p "
        "join marts.horse as h using (horse_key) where p.race_date = '2018-01-01'",
    )
    assert len(horses) == 7
    assert all(key.startswith("nk:") and id_cheval is None for key, id_cheval in horses)


def test_morning_odds_come_from_the_morning_snapshot(warehouse):
    snapshot = warehouse["shared"] / "snapshots" / "0855" / SNAPSHOT_DAY
    checked = 0
    for path in sorted(snapshot.glob("R*/C*/participants.json")):
        race_id = race_id_of(SNAPSHOT_DAY, path.parent.parent.name, path.parent.name)
        expected = {
            r["numPmu"]: r["dernierRapportDirect"]["rapport"]
            for r in json.loads(path.read_text())["participants"]
            if r.get("dernierRapportDirect")
        }
        actual = dict(
            query(
                warehouse["url"],
                "select num_pmu, morning_odds::float from marts.race_participant "
                "where race_id = %s and morning_odds is not null",
                (race_id,),
            )
        )
        if actual:
            assert actual == pytest.approx(expected), race_id
            checked += len(actual)
    assert checked > 100


def test_dividends_and_history_of_the_complete_race(warehouse):
    url, race_dir = warehouse["url"], warehouse["replay"] / SNAPSHOT_DAY / "R1" / "C1"
    rapports = json.loads((race_dir / "rapports-definitifs.json").read_text())
    expected = {
        (b["typePari"], r["libelle"], r["combinaison"]): r["dividendePourUnEuro"] / 100
        for b in rapports
        for r in b["rapports"]
    }
    actual = {
        (t, lbl, c): float(v)
        for t, lbl, c, v in query(
            url,
            "select bet_type, label, combination, dividend_per_eur from marts.bet_report "
            "where race_id = '2025-11-05-R1-C1'",
        )
    }
    assert actual == pytest.approx(expected)

    performances = json.loads((race_dir / "performances-detaillees" / "pretty.json").read_text())
    expected_history = sum(len(p["coursesCourues"]) for p in performances["participants"])
    ((history,),) = query(
        url, "select count(*) from marts.horse_race_history where observed_race_id = '2025-11-05-R1-C1'"
    )
    assert history == expected_history


def test_rerun_and_one_day_window_leave_tables_identical(warehouse):
    url, env, tmp = warehouse["url"], warehouse["env"], warehouse["tmp"]
    before = fingerprint(url)
    assert before["race_participant"][0] > 4000
    # build (models, unit tests and data tests) inside a window, as the daily orchestration does
    run_dbt(
        env,
        tmp,
        "build",
        "--select",
        *DBT_SELECT,
        *AREA_TESTS_ONLY,
        "--vars",
        json.dumps({"start_date": "2025-11-05", "end_date": "2025-11-06"}),
    )
    assert fingerprint(url) == before
    run_dbt(env, tmp, "run", "--select", *DBT_SELECT)  # no vars: the latest built day again
    assert fingerprint(url) == before


def test_building_in_two_windows_equals_building_at_once(warehouse):
    """From scratch with a first window, then a run without vars (the days after the latest built
    one): dimensions and horse history merged across the two runs equal the one-go build."""
    url, env, tmp = warehouse["url"], warehouse["env"], warehouse["tmp"]
    before = fingerprint(url)
    run_dbt(
        env,
        tmp,
        "run",
        "--full-refresh",
        "--select",
        *DBT_SELECT,
        "--vars",
        json.dumps({"start_date": "2018-01-01", "end_date": "2025-11-06"}),
    )
    partial = fingerprint(url)
    assert partial["race"][0] < before["race"][0]
    run_dbt(env, tmp, "run", "--select", *DBT_SELECT)
    assert fingerprint(url) == before


def test_bad_window_var_is_a_clear_error(warehouse):
    bad = json.dumps({"start_date": "2025-11-05'; drop table marts.race; --"})
    result = run_dbt(
        warehouse["env"],
        warehouse["tmp"],
        "run",
        "--select",
        "path:models/marts/core/race.sql",
        "--vars",
        bad,
        check=False,
    )
    assert result.returncode != 0
    assert "start_date/end_date must be YYYY-MM-DD" in result.stdout
    ((races,),) = query(warehouse["url"], "select count(*) from marts.race")
    assert races == 481


def test_docs_generate(warehouse):
    run_dbt(warehouse["env"], warehouse["tmp"], "docs", "generate", "--select", *DBT_SELECT)
    catalog = json.loads((warehouse["tmp"] / "target" / "catalog.json").read_text())
    assert "model.pmu_warehouse.race_participant" in catalog["nodes"]


def test_one_day_window_rebuilds_only_that_day(warehouse):
    """A window [D, D+1) touches nothing outside D: rows of other days deleted behind dbt's back
    stay missing, those of D come back. (Leaves marts.race without 16/11: runs after the others.)"""
    url, env, tmp = warehouse["url"], warehouse["env"], warehouse["tmp"]
    before = fingerprint(url)
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute("delete from marts.race where race_date in ('2025-11-05', '2025-11-16')")
    run_dbt(
        env,
        tmp,
        "run",
        "--select",
        "path:models/marts/core/race.sql",
        "--vars",
        json.dumps({"start_date": "2025-11-05", "end_date": "2025-11-06"}),
    )
    counts = dict(
        query(
            url,
            "select race_date, count(*) from marts.race "
            "where race_date in ('2025-11-05', '2025-11-16') group by 1",
        )
    )
    assert counts == {date(2025, 11, 5): 63}
    after = fingerprint(url)
    assert after["race"][0] == before["race"][0] - 110
    assert {t: f for t, f in after.items() if t != "race"} == {t: f for t, f in before.items() if t != "race"}


def test_descriptions_reach_postgresql_comments(warehouse):
    """persist_docs: every marts relation and every one of its columns carries its dbt description
    as a PostgreSQL comment (what `\\d+` and BI tools show)."""
    undocumented_relations = query(
        warehouse["url"],
        """select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = 'marts' and c.relkind in ('r', 'v', 'm')
             and coalesce(obj_description(c.oid, 'pg_class'), '') = ''""",
    )
    undocumented_columns = query(
        warehouse["url"],
        """select c.relname, a.attname from pg_attribute a
           join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = 'marts' and c.relkind in ('r', 'v', 'm') and a.attnum > 0
             and not a.attisdropped and coalesce(col_description(c.oid, a.attnum), '') = ''""",
    )
    tables = query(warehouse["url"], "select count(*) from pg_tables where schemaname = 'marts'")[0][0]
    assert tables >= len(CORE_TABLES)
    assert undocumented_relations == [] and undocumented_columns == []
