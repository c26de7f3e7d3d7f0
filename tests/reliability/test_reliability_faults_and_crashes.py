"""(a) a seeded backfill of synthetic days under 30% injected faults lands every servable body
exactly once, in one run; (b) a backfill SIGKILLed at seeded random moments and rerun ends with raw
and core tables identical to an uninterrupted run; (c) the same when the embedded PostgreSQL is
SIGKILLed during a COPY; (e) concurrent first ingests of one day: no error, no duplicate."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import tempfile
import time
from datetime import date
from pathlib import Path

import psycopg2
import psycopg2.sql
import pytest
from reliability_helpers import day_range, empty_database, pmu, query, servable_files

from extract.client import ClientConfig
from extract.ingest import backfill
from pipeline.build import build
from pmu_core import db
from pmu_core.replay_server import FaultPlan, ReplayServerThread
from pmu_core.settings import Settings

RAW = ("pmu_programme", "pmu_participants", "pmu_performances", "pmu_rapports")
CORE = ("marts.race", "marts.race_participant", "marts.race_meeting", "marts.race_bet")


def landed_paths(url: str) -> list[tuple[str, str]]:
    """(API path, sha256) of every landed body, all endpoints, sorted (duplicates kept)."""
    rows = []
    for table in RAW:
        rows += query(url, f"select url, body_sha256 from raw.{table}")  # constants only
    return sorted((u.split("/programme/", 1)[1], sha) for u, sha in rows)


def expected_paths(root: Path) -> list[tuple[str, str]]:
    return sorted((path, hashlib.sha256(body).hexdigest()) for path, body in servable_files(root).items())


def raw_count(url: str) -> int:
    try:
        return sum(query(url, f"select count(*) from raw.{table}")[0][0] for table in RAW)  # constants
    except psycopg2.Error:
        return 0


def digest(url: str, qualified: str) -> tuple[int, str]:
    """(rows, md5 of the sorted rows) of a table, over every column but the identity ids (raw_id
    and the *_raw_id copies of it: a crash leaves gaps in a sequence, by design) and our clock
    (fetched_at); URLs by path (a replay server's port is random)."""
    schema, table = qualified.split(".")
    columns = [
        name
        for (name,) in query(
            url,
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
            "order by ordinal_position",
            (schema, table),
        )
        if not name.endswith("raw_id") and name not in ("fetched_at", "finished_at", "run_id")
    ]
    assert columns, f"{qualified} does not exist"
    shown = [
        psycopg2.sql.SQL("regexp_replace({0}, '^[a-z]+://[^/]+', '')").format(psycopg2.sql.Identifier(c))
        if c == "url"
        else psycopg2.sql.SQL("coalesce({}::text, '\\N')").format(psycopg2.sql.Identifier(c))
        for c in columns
    ]
    statement = psycopg2.sql.SQL(
        "select count(*), coalesce(md5(string_agg(r, E'\\n' order by r)), '') from "
        "(select concat_ws('|', {}) as r from {}) as t"
    ).format(psycopg2.sql.SQL(", ").join(shown), psycopg2.sql.Identifier(schema, table))
    return tuple(query(url, statement)[0])


def raw_and_core(url: str) -> dict:
    build(url, select=tuple("+" + name.split(".")[1] for name in CORE), command="run")  # tests: (d)
    return {name: digest(url, name) for name in (*(f"raw.{t}" for t in RAW), *CORE)}


def test_a_under_30_percent_faults_one_backfill_lands_every_servable_body_once(synthetic_days, db_url):
    start, end = day_range(synthetic_days)
    faults = FaultPlan(rate=0.3, seed=7, slow_seconds=0.4, retry_after_seconds=0)
    with ReplayServerThread(synthetic_days, faults=faults) as server:
        # 10 tries per URL (`pmu backfill --max-attempts 10`): with the default 5, 0.3**5 = 0.24% of
        # URLs fail every try and are reported, their days left not final for the next run
        config = ClientConfig(
            base_url=server.base_url,
            requests_per_second=None,
            read_timeout=0.2,
            backoff_base_seconds=0.02,
            max_attempts=10,
        )
        report = backfill(start, end, config=config, db_url=db_url, progress=False)
        served = server.httpd.requests_served
    assert report.failed == [] and report.warnings == []
    assert served > report.requests and report.rejected > 0  # faults did happen
    assert landed_paths(db_url) == expected_paths(synthetic_days)


def _kill_when(proc, predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, "the run ended before the moment to kill it"
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.01)


def _backfill(url: str, base: str, start: date, end: date):
    return pmu(
        "backfill",
        "--start",
        start.isoformat(),
        "--end",
        end.isoformat(),
        "--no-progress",
        "--json",
        env={"PMU_DATABASE_URL": url, "PMU_API_BASE_URL": base},
    )


def test_b_sigkill_at_seeded_moments_then_rerun_equals_an_uninterrupted_run(
    synthetic_days, db_url, databases
):
    start, end = day_range(synthetic_days)
    total = len(servable_files(synthetic_days))
    _, clean_url = databases.create()
    rng = random.Random(2026)
    with ReplayServerThread(synthetic_days) as server:
        clean = _backfill(clean_url, server.base_url, start, end)
        assert clean.wait(timeout=600) == 0, clean.stderr.read()
        for moment in sorted(rng.sample(range(1, total), 3)):
            proc = _backfill(db_url, server.base_url, start, end)
            try:
                _kill_when(proc, lambda m=moment: raw_count(db_url) >= m)
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        rerun = _backfill(db_url, server.base_url, start, end)
        assert rerun.wait(timeout=600) == 0, rerun.stderr.read()
    assert landed_paths(db_url) == landed_paths(clean_url) == expected_paths(synthetic_days)
    assert raw_and_core(db_url) == raw_and_core(clean_url)


def _copy_running(conn) -> bool:
    with conn.cursor() as cur:
        cur.execute(
            "select count(*) from pg_stat_activity where state = 'active' and query ilike 'copy %%raw%%'"
            " and pid <> pg_backend_pid()",
            (),
        )
        return cur.fetchone()[0] > 0


def _wait_for_copy(proc, conn, timeout: float = 300.0) -> None:
    """Poll (one connection, no sleep) until a COPY into the raw tables is under way."""
    deadline = time.monotonic() + timeout
    while not _copy_running(conn):
        assert proc.poll() is None, "the backfill ended before a COPY was seen"
        assert time.monotonic() < deadline, "no COPY seen"


def test_c_sigkill_of_postgresql_during_a_copy_then_restart_and_rerun_is_identical(synthetic_days, databases):
    """The kill lands while pg_stat_activity shows a COPY into a raw table under way."""
    start, end = day_range(synthetic_days)
    _, clean_url = databases.create()
    home = Path(tempfile.mkdtemp(prefix="pmu-rel-"))
    settings = Settings(home=home / "home", database_url=None, api_base_url="http://127.0.0.1:9")
    try:
        url = db.ensure_database(settings)
        with ReplayServerThread(synthetic_days) as server:
            clean = _backfill(clean_url, server.base_url, start, end)
            assert clean.wait(timeout=600) == 0, clean.stderr.read()
            proc = _backfill(url, server.base_url, start, end)
            try:
                _kill_when(proc, lambda: raw_count(url) > 50)
                watcher = psycopg2.connect(url)
                watcher.autocommit = True
                _wait_for_copy(proc, watcher)
                postmaster = int((settings.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
                os.kill(postmaster, signal.SIGKILL)
                assert proc.wait(timeout=120) != 0  # the backfill saw its database die
            finally:
                if proc.poll() is None:
                    proc.kill()
            time.sleep(1.0)  # the killed server's backends exit
            url = db.ensure_database(settings)  # restarts (crash recovery), stale pid file recognised
            rerun = _backfill(url, server.base_url, start, end)
            assert rerun.wait(timeout=600) == 0, rerun.stderr.read()
        assert landed_paths(url) == landed_paths(clean_url) == expected_paths(synthetic_days)
        assert raw_and_core(url) == raw_and_core(clean_url)
    finally:
        db.stop_embedded(settings)
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("processes", [6])
def test_e_concurrent_first_ingests_of_a_day_neither_fail_nor_duplicate(synthetic_days, databases, processes):
    url = empty_database(databases)
    start, _ = day_range(synthetic_days)
    with ReplayServerThread(synthetic_days) as server:
        env = {"PMU_DATABASE_URL": url, "PMU_API_BASE_URL": server.base_url}
        runs = [
            pmu("ingest", "--date", start.isoformat(), "--no-progress", env=env) for _ in range(processes)
        ]
        outputs = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    assert [code for code, _ in outputs] == [0] * processes, outputs
    day = start.strftime("%d%m%Y")
    expected = [item for item in expected_paths(synthetic_days) if item[0].startswith(day)]
    assert landed_paths(url) == expected
