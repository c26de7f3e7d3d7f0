"""Hostile bodies and hostile surroundings (issue 13): each case reproduced over real HTTP into a
real PostgreSQL. One bad body costs that body only, kept with its bytes and a reason; nothing is
dropped silently; the commands around the database recover or say what to do."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import psycopg2
import pytest

from extract import landing
from extract.client import ClientConfig, FetchResult
from extract.ingest import ingest_day
from extract.landing import BodyKey, Lander, ensure_raw_tables, precheck_body
from orchestration import warehouse
from pmu_core import db
from pmu_core.programme import load_json, programme_races, race_number, unaddressable_races
from pmu_core.settings import Settings

DAY = date(2025, 11, 5)
CODE = "05112025"


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def write_day(root: Path, programme: bytes | dict, participants: dict[tuple[int, int], bytes]) -> None:
    body = programme if isinstance(programme, bytes) else json.dumps(programme).encode()
    (root / f"{CODE}.json").write_bytes(body)
    for (meeting, race), data in participants.items():
        folder = root / CODE / f"R{meeting}" / f"C{race}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "participants.json").write_bytes(data)


def programme_of(races: list[tuple[object, object]]) -> dict:
    """A programme whose courses are (numOfficiel, numOrdre) as given, all over."""
    meetings: dict[object, list] = {}
    for meeting, race in races:
        meetings.setdefault(meeting, []).append(
            {"numOrdre": race, "statut": "FIN_COURSE", "arriveeDefinitive": True}
        )
    return {"programme": {"reunions": [{"numOfficiel": m, "courses": c} for m, c in meetings.items()]}}


def runners(name: str) -> bytes:
    return json.dumps({"participants": [{"numPmu": 1, "nom": name}]}).encode()


def query(url: str, statement: str, params=()) -> list[tuple]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall()


def config_for(base_url: str, **overrides) -> ClientConfig:
    return ClientConfig(base_url=base_url, requests_per_second=None, backoff_base_seconds=0.01, **overrides)


# ---- 1. deep nesting ---------------------------------------------------------------------------


def test_load_json_and_the_precheck_survive_any_depth():
    assert load_json(deep(10_000)) is None and load_json(b"[[1]]") == [[1]]
    assert precheck_body(deep(50_000)) == (f"nested deeper than {landing.MAX_JSON_DEPTH} levels", False)
    assert precheck_body(deep(landing.MAX_JSON_DEPTH)) is None
    # brackets inside strings are not nesting
    assert precheck_body(json.dumps({"s": "[" * 5000}).encode()) is None


def test_a_participants_body_nested_50000_deep_costs_that_body_only(tmp_path, db_url, replay_server):
    write_day(tmp_path, programme_of([(1, 1), (1, 2)]), {(1, 1): deep(50_000), (1, 2): runners("B")})
    report = ingest_day(DAY, config=config_for(replay_server(tmp_path)), db_url=db_url)
    assert query(db_url, "select race_num from raw.pmu_participants") == [(2,)]
    (url, reason, body), *others = query(db_url, "select url, reason, body_bytes from raw.rejected_bodies")
    assert others == [] and bytes(body) == deep(50_000) and "nested deeper than" in reason
    assert url.endswith("/programme/05112025/R1/C1/participants")
    assert [f["url"] for f in report.failed] == [url] and not report.is_final


def test_a_body_postgresql_refuses_on_its_stack_depth_is_rejected_and_the_batch_lands(db_url, monkeypatch):
    """Without the precheck, PostgreSQL itself fails the COPY with 54001 (an OperationalError, not
    a DataError): the batch lands without that body, which is kept with PostgreSQL's reason."""
    ensure_raw_tables(db_url)
    monkeypatch.setattr(landing, "precheck_body", lambda body: None)
    bodies = [runners("A"), deep(50_000), runners("C")]
    results = [
        FetchResult(f"http://replay/R1/C{n}", "ok", 200, body, tag=BodyKey("participants", DAY, 1, n))
        for n, body in enumerate(bodies, start=1)
    ]
    with Lander(db_url, client=1) as lander:
        outcome = lander.land(results)
    assert outcome.outcomes == ["new", "rejected", "new"]
    assert query(db_url, "select race_num from raw.pmu_participants order by race_num") == [(1,), (3,)]
    ((reason, body),) = query(db_url, "select reason, body_bytes from raw.rejected_bodies")
    assert "54001" in reason and bytes(body) == deep(50_000)
    assert query(db_url, "select outcome from raw.fetch_log order by fetch_id") == [
        ("new",),
        ("rejected",),
        ("new",),
    ]


def test_a_programme_nested_10000_deep_is_rejected_and_the_run_goes_on(tmp_path, db_url, replay_server):
    write_day(tmp_path, deep(10_000), {(1, 1): runners("A")})
    report = ingest_day(DAY, config=config_for(replay_server(tmp_path)), db_url=db_url)
    assert query(db_url, "select count(*) from raw.pmu_programme") == [(0,)]
    assert query(db_url, "select reason from raw.rejected_bodies") == [
        (f"nested deeper than {landing.MAX_JSON_DEPTH} levels",)
    ]
    assert report.failed and not report.is_final


def test_a_deep_programme_already_in_raw_breaks_neither_ingest_nor_the_sensors(
    tmp_path, db_url, replay_server
):
    """A database landed before the precheck may hold one (PostgreSQL stores 10,000 levels)."""
    ensure_raw_tables(db_url)
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "insert into raw.pmu_programme (race_date, client, url, http_status, fetched_at, body_sha256, "
            "extractor_version, body) values (%s, 1, 'u', 200, now(), repeat('0', 64), 'x', %s::jsonb)",
            (DAY, deep(10_000).decode()),
        )
    with psycopg2.connect(db_url) as conn:
        assert warehouse.latest_programmes(conn, [DAY]) == {DAY: (None, [])}
    write_day(tmp_path, programme_of([(1, 1)]), {(1, 1): runners("A")})
    report = ingest_day(DAY, config=config_for(replay_server(tmp_path)), db_url=db_url, only=["participants"])
    assert "ingest the programme first" in report.failed[0]["reason"]


# ---- 3. race numbers served as strings or floats ------------------------------------------------


def test_race_number_coerces_only_what_is_unambiguous():
    assert [race_number(v) for v in (2, 2.0, "2", " 2 ", "02")] == [2, 2, 2, 2, 2]
    assert [race_number(v) for v in (True, 1.5, "2a", "", None, "²", [2])] == [None] * 7


def test_races_numbered_as_strings_or_floats_are_fetched_and_the_others_reported(
    tmp_path, db_url, replay_server
):
    races = [("1", 1), ("1", "2"), ("1", 3.0), ("1", "x"), ("1", 2.5)]
    write_day(tmp_path, programme_of(races), {(1, n): runners(f"H{n}") for n in (1, 2, 3)})
    assert [r.race_num for r in programme_races(programme_of(races))] == [1, 2, 3]
    assert len(unaddressable_races(programme_of(races))) == 2
    report = ingest_day(DAY, config=config_for(replay_server(tmp_path)), db_url=db_url)
    assert query(db_url, "select meeting_num, race_num from raw.pmu_participants order by 2") == [
        (1, 1),
        (1, 2),
        (1, 3),
    ]
    reasons = [f["reason"] for f in report.failed]
    assert len(reasons) == 2 and all("race not fetched" in r for r in reasons)
    assert "'x'" in reasons[0] and "2.5" in reasons[1]
    # served today, years after the day: would be final but for the races it could not fetch
    assert query(db_url, "select is_final, is_complete from raw.day_runs") == [(False, False)]


# ---- 5. a programme the database refuses is not used ----------------------------------------------


def test_runners_of_a_programme_postgresql_refused_do_not_land(tmp_path, db_url, replay_server):
    # valid JSON (orjson reads it) that jsonb refuses (22P05): the races were read before it landed
    programme = json.dumps(programme_of([(1, 1), (1, 2)]))[:-1] + ', "note": "a\\u0000b"}'
    write_day(tmp_path, programme.encode(), {(1, 1): runners("A"), (1, 2): runners("B")})
    report = ingest_day(DAY, config=config_for(replay_server(tmp_path)), db_url=db_url)
    assert query(db_url, "select count(*) from raw.pmu_programme") == [(0,)]
    assert query(db_url, "select count(*) from raw.pmu_participants") == [(0,)]
    assert query(db_url, "select endpoint from raw.rejected_bodies") == [("programme",)]
    refused = [f for f in report.failed if "/participants" in f["url"]]
    assert len(refused) == 2 and all("was rejected" in f["reason"] for f in refused)
    assert not report.is_final


# ---- 7. concurrent first runs ---------------------------------------------------------------------


def test_concurrent_first_runs_create_the_schemas_without_error(databases):
    name = f"t_{os.urandom(6).hex()}"
    db._admin(
        databases.server_url, psycopg2.sql.SQL("create database {}").format(psycopg2.sql.Identifier(name))
    )
    databases.names.add(name)
    url = db.url_for_database(databases.server_url, name)
    errors: list[Exception] = []
    barrier = threading.Barrier(10)

    def first_run():
        try:
            barrier.wait()
            db.ensure_schemas(url)
            ensure_raw_tables(url)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=first_run) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    schemas = {row[0] for row in query(url, "select nspname from pg_namespace")}
    assert set(db.SCHEMAS) <= schemas


# ---- 9. secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://pmu:s3cr%40t@db.example:5433/pmu", "postgresql://pmu:***@db.example:5433/pmu"),
        (
            "postgresql://pmu@/pmu?host=/tmp/x&password=hunter2",
            "postgresql://pmu@/pmu?host=/tmp/x&password=***",
        ),
        ("postgresql://postgres@/pmu?host=/tmp/x", "postgresql://postgres@/pmu?host=/tmp/x"),
    ],
)
def test_mask_password(url, masked):
    assert db.mask_password(url) == masked


def test_psql_gets_the_password_from_the_environment_not_the_command_line():
    env = db.libpq_env("postgresql://pmu:s3cr%40t@db.example:5433/warehouse")
    assert env == {
        "PGHOST": "db.example",
        "PGPORT": "5433",
        "PGUSER": "pmu",
        "PGDATABASE": "warehouse",
        "PGPASSWORD": "s3cr@t",
    }


def _pmu(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pmu_cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_pmu_db_url_masks_the_password_unless_asked():
    url = "postgresql://pmu:hunter2@127.0.0.1:9/pmu"
    masked = _pmu("db", "url", PMU_DATABASE_URL=url)
    assert masked.returncode == 0 and "hunter2" not in masked.stdout and "pmu:***@" in masked.stdout
    shown = _pmu("db", "url", "--show-password", PMU_DATABASE_URL=url)
    assert shown.stdout.strip() == url


def test_a_home_too_long_for_the_socket_is_refused_before_anything_starts(tmp_path):
    home = tmp_path / ("h" * 120)
    settings = Settings(home=home, database_url=None, api_base_url="http://127.0.0.1:9")
    with pytest.raises(RuntimeError, match="too long for the embedded database's socket"):
        db.database_url(settings)
    assert not settings.pgdata.exists()


# ---- 8. a stale postmaster.pid --------------------------------------------------------------------


@pytest.fixture
def own_home():
    home = Path(tempfile.mkdtemp(prefix="pmu-test-stale-"))  # not under pytest's basetemp: see conftest
    settings = Settings(home=home / "home", database_url=None, api_base_url="http://127.0.0.1:9")
    yield settings
    db.stop_embedded(settings)
    shutil.rmtree(home, ignore_errors=True)


def _wait_gone(pid: int, timeout: float = 30.0) -> None:
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.1)
    raise AssertionError(f"process {pid} still runs")


def test_a_crashed_server_with_its_pid_reused_is_recovered(own_home):
    db.ensure_database(own_home)
    pid_file = own_home.pgdata / "postmaster.pid"
    lines = pid_file.read_text().split("\n")
    postmaster = int(lines[0])
    os.kill(postmaster, signal.SIGKILL)
    _wait_gone(postmaster)
    time.sleep(1.0)  # its backends notice the postmaster's death and exit
    # the crash left postmaster.pid behind; its pid now belongs to another program (this one)
    pid_file.write_text("\n".join([str(os.getpid()), *lines[1:]]))
    assert db.postmaster_state(own_home.pgdata) == "stale"

    env = {"PMU_HOME": str(own_home.home), "PMU_DATABASE_URL": ""}
    stopped = _pmu("db", "stop", **env)
    assert stopped.returncode == 0, stopped.stderr
    assert "stale" in stopped.stdout and not pid_file.exists()

    pid_file.write_text("\n".join([str(os.getpid()), *lines[1:]]))  # crashed again
    url = db.ensure_database(own_home)
    assert query(url, "select 1") == [(1,)]
    assert db.postmaster_state(own_home.pgdata) == "running"


# ---- 10. replay server paths and a day that lands nothing ------------------------------------------


def _raw_get(base_url: str, target: str) -> bytes:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        return conn.recv(65536)


def test_a_nul_in_the_path_is_a_400_and_the_server_goes_on(tmp_path, replay_server):
    write_day(tmp_path, programme_of([(1, 1)]), {})
    base = replay_server(tmp_path)
    assert _raw_get(base, "/rest/client/1/programme/05112025%00").startswith(b"HTTP/1.1 400 ")
    assert _raw_get(base, "/rest/client/1/programme/05112025").startswith(b"HTTP/1.1 200 ")


def test_a_symlinked_day_folder_is_served(tmp_path, db_url, replay_server):
    elsewhere, root = tmp_path / "elsewhere", tmp_path / "root"
    elsewhere.mkdir()
    root.mkdir()
    write_day(elsewhere, programme_of([(1, 1)]), {(1, 1): runners("A")})
    (root / f"{CODE}.json").symlink_to(elsewhere / f"{CODE}.json")
    (root / CODE).symlink_to(elsewhere / CODE, target_is_directory=True)
    base = replay_server(root)
    assert _raw_get(base, "/rest/client/1/programme/..%2F..%2Fetc%2Fpasswd").startswith(b"HTTP/1.1 404 ")
    report = ingest_day(DAY, config=config_for(base), db_url=db_url)
    assert query(db_url, "select race_num from raw.pmu_participants") == [(1,)]
    assert report.warnings == []


def test_a_day_whose_races_give_no_body_is_a_warning_and_not_final(tmp_path, db_url, replay_server):
    write_day(tmp_path, programme_of([(1, 1), (1, 2)]), {})  # every race endpoint answers 204
    report = ingest_day(DAY, config=config_for(replay_server(tmp_path)), db_url=db_url)
    assert report.failed == [] and report.not_published == 6
    assert report.warnings == ["2025-11-05: the programme lists 2 races but none of them gave a body"]
    assert query(db_url, "select is_final from raw.day_runs") == [(False,)]
    summary = _pmu(
        "ingest", "--date", "2025-11-05", PMU_DATABASE_URL=db_url, PMU_API_BASE_URL=replay_server(tmp_path)
    )
    assert "warning: 2025-11-05: the programme lists 2 races" in summary.stdout


# ---- 2. and 4. huge numbers and bodies that give no rows -------------------------------------------


def test_an_impossible_start_time_is_no_time_for_the_clock():
    from orchestration.race_clock import races_from_programme
    from pmu_core.programme import start_time

    assert start_time(1e20) is None and start_time(-1e20) is None and start_time(10**30) is None
    body = programme_of([(1, 1), (1, 2)])
    body["programme"]["reunions"][0]["courses"][0]["heureDepart"] = 1e20
    body["programme"]["reunions"][0]["courses"][1]["heureDepart"] = 1762350000000
    assert [r.race_num for r in races_from_programme(body, DAY)] == [2]


def test_bodies_without_rows_and_days_without_race_bodies_are_what_the_checks_read(
    tmp_path, db_url, replay_server
):
    from pipeline.build import build

    write_day(tmp_path, programme_of([(1, 1), (1, 2)]), {(1, 1): b"null", (1, 2): b'{"participants": {}}'})
    ingest_day(DAY, config=config_for(replay_server(tmp_path)), db_url=db_url)
    empty_day = date(2025, 11, 6)
    next_day = programme_of([(1, 1)])  # a programme (the checks read races with a start), no race body
    next_day["programme"]["reunions"][0]["courses"][0]["heureDepart"] = 1762437000000
    (tmp_path / "06112025.json").write_text(json.dumps(next_day))
    ingest_day(empty_day, config=config_for(replay_server(tmp_path)), db_url=db_url, only=["programme"])
    build(db_url, select=("stg_pmu__bodies_without_rows",), command="run")
    with psycopg2.connect(db_url) as conn:
        quarantined = warehouse.bodies_without_rows(conn, [DAY, empty_day])
        assert warehouse.days_without_race_bodies(conn, [DAY, empty_day]) == [empty_day]
    assert [(endpoint, url.rsplit("/programme/", 1)[1], reason) for endpoint, url, reason in quarantined] == [
        (
            "participants",
            "05112025/R1/C1/participants",
            "participants is missing (or the body is not an object)",
        ),
        ("participants", "05112025/R1/C2/participants", "participants is object, not an array"),
    ]
