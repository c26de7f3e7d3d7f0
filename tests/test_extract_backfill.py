"""Backfills are resumable: a `pmu backfill` killed with SIGKILL and rerun ends with exactly the rows
of an uninterrupted run; a rerun skips days already landed and final; Ctrl-C keeps what was done."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psycopg2
import pytest

from extract.client import ClientConfig
from extract.ingest import backfill
from pmu_core.replay_server import ReplayServerThread

DAYS = ("26102025", "05112025", "16112025")
TABLES = ("pmu_programme", "pmu_participants", "pmu_performances", "pmu_rapports")


@pytest.fixture
def other_db_url(databases):
    """A second fresh database on the same server (the uninterrupted run's)."""
    name, url = databases.create()
    yield url
    databases.drop(name)


@pytest.fixture
def three_days(shared_pmu, tmp_path) -> Path:
    """Three real days in a scratch replay root with an evening capture time each, so that
    served_at is the same in every run (the shared folder has none and is read-only)."""
    root = tmp_path / "replay"
    root.mkdir()
    for code in DAYS:
        shutil.copyfile(shared_pmu / "replay" / f"{code}.json", root / f"{code}.json")
        shutil.copytree(shared_pmu / "replay" / code, root / code)
    captured = {code: f"{code[4:]}-{code[2:4]}-{code[:2]}T23:30:00+01:00" for code in DAYS}
    (root / "_captured_at.json").write_text(json.dumps(captured))
    return root


def _snapshot(url: str) -> dict[str, list]:
    """Every landed row but raw_id and fetched_at (our clock), in a stable order."""
    rows = {}
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        for table in TABLES:
            # table names are constants
            cur.execute(
                f"select race_date, meeting_num, race_num, client, url, http_status, served_at, "
                f"body_sha256, extractor_version, body::text from raw.{table} "
                f"order by race_date, meeting_num nulls first, race_num nulls first, raw_id"
            )
            rows[table] = cur.fetchall()
        cur.execute("select count(*) from raw.rejected_bodies")
        rows["rejected"] = cur.fetchall()
    return rows


def _count(url: str, statement: str) -> int:
    try:
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchone()[0]
    except psycopg2.errors.UndefinedTable:
        return 0  # the run has not created the raw tables yet


def _backfill_process(db_url: str, base_url: str, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PMU_DATABASE_URL=db_url, PMU_API_BASE_URL=base_url)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pmu_cli.main",
            "backfill",
            "--start",
            "2025-10-26",
            "--end",
            "2025-11-16",
            "--no-progress",
            "--json",
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, "the backfill ended before the moment to interrupt it"
        assert time.monotonic() < deadline, "the backfill made no progress"
        time.sleep(0.02)


def test_sigkill_midway_then_rerun_equals_an_uninterrupted_run(three_days, db_url, other_db_url):
    with ReplayServerThread(three_days) as server:
        # slowed down so that the kill lands mid-run: after day 2's participants, before its end
        proc = _backfill_process(db_url, server.base_url, "--rps", "120")
        _wait_for(
            lambda: _count(db_url, "select count(distinct race_date) from raw.pmu_participants") >= 2, proc
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        partial = _snapshot(db_url)

        rerun = _backfill_process(db_url, server.base_url, "--rps", "0")
        out, err = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, err
        summary = json.loads(out)
        # day 1 and the empty days before day 2 were final before the kill: not fetched again
        assert summary["days_skipped"] >= 10 and summary["failed"] == []

        whole = _backfill_process(other_db_url, server.base_url, "--rps", "0")
        out_whole, err_whole = whole.communicate(timeout=300)
        assert whole.returncode == 0, err_whole

    expected = _snapshot(other_db_url)
    assert sum(len(expected[t]) for t in TABLES) > 280  # the three days did land
    assert sum(len(partial[t]) for t in TABLES) < sum(len(expected[t]) for t in TABLES)  # killed midway
    assert _snapshot(db_url) == expected


def _final_and_open_days(root: Path) -> None:
    """05112025: every race over; 06112025: a race still to run."""
    for code, over in (("05112025", True), ("06112025", False)):
        course = {"numOrdre": 1, "statut": "ARRIVEE_DEFINITIVE" if over else "PROGRAMMEE"}
        (root / f"{code}.json").write_text(
            json.dumps({"programme": {"reunions": [{"numOfficiel": 1, "courses": [course]}]}})
        )
        (root / code / "R1" / "C1").mkdir(parents=True)
        (root / code / "R1" / "C1" / "participants.json").write_text('{"participants": []}')
    (root / "_captured_at.json").write_text(
        json.dumps({"05112025": "2025-11-05T22:00:00+01:00", "06112025": "2025-11-06T09:00:00+01:00"})
    )


def test_rerun_skips_final_days_and_fetches_the_others_again(tmp_path, db_url):
    _final_and_open_days(tmp_path)
    with ReplayServerThread(tmp_path) as server:
        config = ClientConfig(base_url=server.base_url, requests_per_second=None)
        first = backfill(date(2025, 11, 5), date(2025, 11, 6), config=config, db_url=db_url, progress=False)
        requests_first = server.httpd.requests_served
        second = backfill(date(2025, 11, 5), date(2025, 11, 6), config=config, db_url=db_url, progress=False)
        requests_second = server.httpd.requests_served - requests_first
        # another client number is another source: nothing is skipped for it
        other = backfill(
            date(2025, 11, 5),
            date(2025, 11, 5),
            config=ClientConfig(base_url=config.base_url, client=7, requests_per_second=None),
            db_url=db_url,
            progress=False,
        )
        before_forced = server.httpd.requests_served
        forced = backfill(
            date(2025, 11, 5),
            date(2025, 11, 6),
            config=config,
            db_url=db_url,
            progress=False,
            refetch_final=True,
        )
        requests_forced = server.httpd.requests_served - before_forced
    assert (first.days, first.days_skipped, first.days_final, first.bodies_new) == (2, 0, 1, 4)
    assert requests_first == 8  # 2 days x (programme + participants + performances + rapports)
    assert (second.days_skipped, second.bodies_new, second.bodies_unchanged) == (1, 0, 2)
    assert requests_second == 4  # only the open day
    assert other.days_skipped == 0 and other.bodies_unchanged == 2
    assert forced.days_skipped == 0 and requests_forced == 8 and forced.bodies_new == 0


def test_ctrl_c_keeps_what_was_landed_and_says_how_to_resume(three_days, db_url):
    with ReplayServerThread(three_days) as server:
        proc = _backfill_process(db_url, server.base_url, "--rps", "100")
        _wait_for(lambda: _count(db_url, "select count(*) from raw.pmu_participants") > 0, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "rerun the same command to resume" in err
    summary = json.loads(out)
    assert summary["bodies_new"] == sum(_count(db_url, f"select count(*) from raw.{t}") for t in TABLES)


def test_days_land_in_order_endpoint_after_endpoint_while_the_next_day_is_fetched(three_days, db_url):
    """The landing thread runs behind the fetches, a day ahead at most: still, every batch lands in
    strict order (day after day, programme -> participants -> performances -> rapports), and each
    day is recorded in raw.day_runs after its bodies."""
    from extract.ingest import ingest_days

    days = [date(2025, 10, 26), date(2025, 11, 5), date(2025, 11, 16)]
    with ReplayServerThread(three_days) as server:
        config = ClientConfig(base_url=server.base_url, requests_per_second=None)
        report = ingest_days(days, config=config, db_url=db_url)
    assert report.failed == [] and report.days == 3
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "select race_date, endpoint, min(fetch_id), max(fetch_id) from raw.fetch_log "
            "group by race_date, endpoint order by min(fetch_id)"
        )
        batches = cur.fetchall()
        cur.execute("select race_date from raw.day_runs order by day_run_id")
        recorded = [row[0] for row in cur.fetchall()]
        # one landing connection: its transaction ids give the order of commits across tables
        cur.execute("""
            select 'bodies', race_date, min(xmin::text::bigint), max(xmin::text::bigint)
            from raw.fetch_log group by race_date
            union all
            select 'day_run', race_date, min(xmin::text::bigint), max(xmin::text::bigint)
            from raw.day_runs group by race_date
            order by 3
        """)
        commits = [(kind, day) for kind, day, _, _ in cur.fetchall()]
    endpoints = ["programme", "participants", "performances", "rapports"]
    assert [(d, e) for d, e, _, _ in batches] == [(d, e) for d in days for e in endpoints]
    assert all(before[3] < after[2] for before, after in zip(batches[:-1], batches[1:], strict=True))
    assert recorded == days
    assert commits == [(kind, d) for d in days for kind in ("bodies", "day_run")]


def test_rapports_not_announced_by_this_runs_programme_are_not_asked(tmp_path, db_url):
    from extract.ingest import ingest_day

    courses = [
        {"numOrdre": 1, "statut": "ARRIVEE_DEFINITIVE", "rapportsDefinitifsDisponibles": True},
        {"numOrdre": 2, "statut": "PROGRAMMEE", "rapportsDefinitifsDisponibles": False},
    ]
    (tmp_path / "05112025.json").write_text(
        json.dumps({"programme": {"reunions": [{"numOfficiel": 1, "courses": courses}]}})
    )
    (tmp_path / "_captured_at.json").write_text(json.dumps({"05112025": "2025-11-05T14:00:00+01:00"}))
    with ReplayServerThread(tmp_path) as server:
        config = ClientConfig(base_url=server.base_url, requests_per_second=None)
        day = ingest_day(date(2025, 11, 5), config=config, db_url=db_url)
        full_run = server.httpd.requests_served
        ingest_day(date(2025, 11, 5), config=config, db_url=db_url, only=["rapports"])
        rapports_only = server.httpd.requests_served - full_run
    # programme + 2 participants + 2 performances + 1 rapports (R1C2's not announced)
    assert full_run == 6 and day.not_announced == 1 and day.requests == 6
    assert not day.is_final  # R1C2 is still to run
    # a run without the programme reads the landed one, which may be stale: it asks for both
    assert rapports_only == 2


def test_merge_reports_sums_the_count_fields_once_each():
    from extract.ingest import COUNT_FIELDS, DayReport, merge_reports

    morning, evening = DayReport(day=date(2025, 11, 5)), DayReport(day=date(2025, 11, 5), is_final=True)
    morning.count(**{name: 1 for name in COUNT_FIELDS})
    evening.count(**{name: 10 for name in COUNT_FIELDS})
    morning.fail("u1", "timeout")
    other = DayReport(day=date(2025, 11, 6))
    other.fail("u2", "HTTP 500")
    total = merge_reports([morning, evening, other])
    assert all(getattr(total, name) == 11 for name in COUNT_FIELDS)
    assert (total.start, total.end, total.days, total.days_final) == (
        date(2025, 11, 5),
        date(2025, 11, 6),
        2,
        1,
    )
    assert [f["url"] for f in total.failed] == ["u1", "u2"]
    empty = merge_reports([], date(2025, 11, 1), date(2025, 11, 2)).as_dict()
    assert empty["days"] == 0 and empty["failed"] == [] and empty["start"] == "2025-11-01"
    with pytest.raises(ValueError):
        merge_reports([])


def test_days_eta_at_the_pace_so_far():
    from extract.ingest import days_eta

    assert days_eta(0, 10, 5.0) == "?"
    assert days_eta(2, 10, 60.0) == "0:04:00"  # 30 s a day, 8 days left
    assert days_eta(3, 3, 99.0) == "0:00:00"
    assert days_eta(1, 200, 61.0) == "3:22:19"
