"""Landing real recorded days over real HTTP into a real PostgreSQL: every file lands once with its
date/R/C, reruns add nothing, changed bodies become snapshots, faults do not lose or duplicate
anything, bad bodies end in raw.rejected_bodies byte for byte. Expectations are read from the
files on disk, never from the code under test."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg2
import pytest

from extract import landing
from extract.client import ClientConfig
from extract.ingest import IDENTICAL_REJECTIONS, ensure_raw_tables, ingest_day
from pmu_core.facts import ENDPOINTS, Endpoint
from pmu_core.replay_server import FaultPlan, ReplayServerThread

DAY = date(2025, 11, 5)
TABLES = {
    "programme": "pmu_programme",
    "participants": "pmu_participants",
    "performances": "pmu_performances",
    "rapports": "pmu_rapports",
}
_FILE_RE = re.compile(
    r"^R(\d+)/C(\d+)/(participants|performances-detaillees/pretty|rapports-definitifs)\.json$"
)
_ENDPOINT_OF = {
    "participants": "participants",
    "performances-detaillees/pretty": "performances",
    "rapports-definitifs": "rapports",
}


def files_of_day(root: Path, code: str = "05112025") -> dict[tuple, Path]:
    """(endpoint, meeting, race) -> file, straight from the folder layout."""
    files = {}
    if (root / f"{code}.json").is_file():
        files[("programme", None, None)] = root / f"{code}.json"
    for path in (root / code).rglob("*.json"):
        match = _FILE_RE.match(path.relative_to(root / code).as_posix())
        assert match, f"unexpected file {path}"
        files[(_ENDPOINT_OF[match.group(3)], int(match.group(1)), int(match.group(2)))] = path
    return files


def landed(db_url: str, columns: str = "race_date, meeting_num, race_num, body_sha256") -> dict[str, list]:
    rows = {}
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        for endpoint, table in TABLES.items():
            cur.execute(f"select {columns} from raw.{table} order by raw_id")  # constants only
            rows[endpoint] = cur.fetchall()
    return rows


def query(db_url: str, statement: str, params=()) -> list[tuple]:
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def config_for(base_url: str, **overrides) -> ClientConfig:
    return ClientConfig(base_url=base_url, requests_per_second=None, **overrides)


def assert_day_landed_exactly_once(db_url: str, files: dict[tuple, Path]) -> None:
    rows = landed(db_url)
    expected = {endpoint: [] for endpoint in TABLES}
    for (endpoint, meeting, race), path in files.items():
        expected[endpoint].append((DAY, meeting, race, sha(path)))
    for endpoint in TABLES:
        assert sorted(rows[endpoint], key=str) == sorted(expected[endpoint], key=str), endpoint


def test_every_file_of_a_day_lands_with_its_date_meeting_and_race(shared_pmu, db_url, replay_server):
    root = shared_pmu / "replay"
    files = files_of_day(root)
    base = replay_server(root)
    report = ingest_day(DAY, config=config_for(base), db_url=db_url)

    assert_day_landed_exactly_once(db_url, files)
    assert report.bodies_new == len(files) and report.failed == [] and report.rejected == 0
    assert report.bytes_landed == sum(p.stat().st_size for p in files.values())
    programme = json.loads((root / "05112025.json").read_bytes())
    races = sum(len(m["courses"]) for m in programme["programme"]["reunions"])
    assert report.races == races and report.not_published == 3 * races - (len(files) - 1)
    # the body is the file's JSON, and the row says where it came from
    rows = query(
        db_url,
        "select 'participants', meeting_num, race_num, body, url, client, http_status, "
        "served_at, extractor_version from raw.pmu_participants "
        "union all select 'programme', null, null, body, url, client, http_status, "
        "served_at, extractor_version from raw.pmu_programme",
    )
    assert len(rows) == 1 + len([k for k in files if k[0] == "participants"])
    for endpoint, meeting, race, body, url, client, status, served_at, version in rows:
        path = files[(endpoint, meeting, race)]
        assert body == json.loads(path.read_bytes())
        assert url == f"{base}/rest/client/1/programme/{path.relative_to(root).with_suffix('').as_posix()}"
        assert (client, status) == (1, 200) and served_at is not None and version


def test_second_run_lands_nothing_new(shared_pmu, db_url, replay_server):
    base = replay_server(shared_pmu / "replay")
    first = ingest_day(DAY, config=config_for(base), db_url=db_url)
    before = landed(db_url, "raw_id, body_sha256")
    second = ingest_day(DAY, config=config_for(base, client=7), db_url=db_url)
    assert landed(db_url, "raw_id, body_sha256") == before
    assert second.bodies_new == 0 and second.bodies_unchanged == first.bodies_new
    # every request of both runs is in the fetch log, with its outcome
    outcomes = dict(query(db_url, "select outcome, count(*) from raw.fetch_log group by outcome"))
    assert outcomes == {
        "new": first.bodies_new,
        "unchanged": first.bodies_new,
        "not_published": first.not_published * 2,
    }


def test_snapshots_of_a_day_are_all_kept_in_order(shared_pmu, db_url, replay_server):
    """08:55 then 13:00 (which has no programme: races come from the landed one) then the final
    replay: each distinct participants body is a row, with the time it was true."""
    roots = [shared_pmu / "snapshots" / "0855", shared_pmu / "snapshots" / "1300", shared_pmu / "replay"]
    for root in roots:
        report = ingest_day(DAY, config=config_for(replay_server(root)), db_url=db_url)
        assert report.failed == []
    versions = {}
    rows = query(
        db_url,
        "select meeting_num || '-' || race_num, body_sha256, served_at "
        "from raw.pmu_participants order by raw_id",
    )
    for key, sha256, served_at in rows:
        versions.setdefault(key, []).append((sha256, served_at))
    per_root = [
        {f"{m}-{r}": sha(p) for (e, m, r), p in files_of_day(root).items() if e == "participants"}
        for root in roots
    ]
    assert per_root[0] and per_root[1]
    for key in per_root[2]:
        expected = []
        for snapshot in per_root:
            if key in snapshot and (not expected or expected[-1] != snapshot[key]):
                expected.append(snapshot[key])
        assert [v[0] for v in versions[key]] == expected, key
    both = [k for k in per_root[0] if k in per_root[2] and per_root[0][k] != per_root[2][k]]
    assert both, "the 08:55 odds differ from the final ones"
    first_served = versions[both[0]][0][1]
    assert first_served == datetime(2025, 11, 5, 7, 55, 23, tzinfo=UTC)  # the capture time, via HTTP Date
    programme_versions = query(db_url, "select served_at from raw.pmu_programme order by raw_id")
    assert len(programme_versions) == 2  # 08:55 and final; 13:00 published none


@pytest.mark.slow
def test_day_lands_completely_and_exactly_once_under_faults(shared_pmu, db_url):
    root = shared_pmu / "replay"
    files = files_of_day(root)
    faults = FaultPlan(rate=0.2, seed=11, slow_seconds=0.5)
    with ReplayServerThread(root, faults=faults) as server:
        config = config_for(server.base_url, read_timeout=0.25, backoff_base_seconds=0.05, max_attempts=8)
        report = ingest_day(DAY, config=config, db_url=db_url)
        served = server.httpd.requests_served
    assert report.failed == []
    assert served > report.requests and report.rejected > 0  # faults did happen and were retried
    assert_day_landed_exactly_once(db_url, files)
    # truncated answers were kept as rejected bodies: each a strict prefix of its file
    rejected = query(db_url, "select url, reason, body_bytes from raw.rejected_bodies")
    assert len(rejected) == report.rejected
    by_url = {
        f"{server.base_url}/rest/client/1/programme/{p.relative_to(root).with_suffix('').as_posix()}": p
        for p in files.values()
    }
    for url, reason, body_bytes in rejected:
        full = by_url[url].read_bytes()
        assert full.startswith(bytes(body_bytes)) and len(body_bytes) < len(full) and "22P02" in reason


def _tiny_day(
    root: Path, participants: dict[int, bytes], performances: dict[int, bytes] | None = None
) -> None:
    courses = [{"numOrdre": race, "statut": "FIN_COURSE", "arriveeDefinitive": True} for race in (1, 2)]
    programme = {"programme": {"reunions": [{"numOfficiel": 1, "courses": courses}]}}
    (root / "05112025.json").write_text(json.dumps(programme))
    for race, body in participants.items():
        (root / "05112025" / "R1" / f"C{race}").mkdir(parents=True, exist_ok=True)
        (root / "05112025" / "R1" / f"C{race}" / "participants.json").write_bytes(body)
    for race, body in (performances or {}).items():
        folder = root / "05112025" / "R1" / f"C{race}" / "performances-detaillees"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "pretty.json").write_bytes(body)


def test_truncated_body_ends_in_rejected_bodies(tmp_path, db_url):
    _tiny_day(tmp_path, {1: b'{"participants": [{"numPmu": 1, "nom": "A"}]}'})
    with ReplayServerThread(tmp_path, faults=FaultPlan(rate=1.0, kinds=("truncated",))) as server:
        report = ingest_day(DAY, config=config_for(server.base_url), db_url=db_url, only=["programme"])
    full = (tmp_path / "05112025.json").read_bytes()
    rejected = query(
        db_url,
        "select endpoint, race_date, meeting_num, http_status, reason, body_sha256, "
        "body_bytes from raw.rejected_bodies",
    )
    # cut at a different point each time, like a network: fetched in every one of the 5 rounds
    assert len(rejected) == ClientConfig(base_url="http://x").max_attempts == report.rejected
    for endpoint, race_date, meeting, status, reason, body_sha, body_bytes in rejected:
        assert (endpoint, race_date, meeting, status) == ("programme", DAY, None, 200)
        assert full.startswith(bytes(body_bytes)) and 0 < len(body_bytes) < len(full)
        assert body_sha == hashlib.sha256(body_bytes).hexdigest()
        assert "invalid jsonb (22P02)" in reason
    assert len({bytes(row[-1]) for row in rejected}) > 1
    assert landed(db_url)["programme"] == []
    assert [f["url"].endswith("/programme/05112025") for f in report.failed] == [True]
    assert query(db_url, "select outcome from raw.fetch_log") == [("rejected",)] * 5


def test_a_body_broken_the_same_way_each_time_is_asked_a_bounded_number_of_times(
    tmp_path, db_url, replay_server
):
    _tiny_day(tmp_path, {})
    (tmp_path / "05112025.json").write_bytes(b'{"programme": {"reunions": [')  # cut on disk: always
    config = config_for(replay_server(tmp_path), backoff_base_seconds=0.01)
    report = ingest_day(DAY, config=config, db_url=db_url, only=["programme"])
    assert query(db_url, "select count(distinct body_sha256), count(*) from raw.rejected_bodies") == [
        (1, IDENTICAL_REJECTIONS)
    ]
    assert report.rejected == IDENTICAL_REJECTIONS < config.max_attempts and len(report.failed) == 1


def test_unstorable_bodies_are_rejected_with_their_bytes_and_the_rest_lands(tmp_path, db_url, replay_server):
    nul_escape = b'{"participants": [{"nom": "A\\u0000B"}]}'  # valid JSON, refused by jsonb
    html = b"<html>maintenance</html>"
    good = b'{"participants": [{"numPmu": 1, "nom": "C:\\\\chemin \\"quoted\\""}]}'
    _tiny_day(tmp_path, {1: nul_escape, 2: good}, {2: html})
    report = ingest_day(DAY, config=config_for(replay_server(tmp_path)), db_url=db_url)
    rejected = query(
        db_url, "select race_num, endpoint, reason, body_bytes from raw.rejected_bodies order by rejected_id"
    )
    nul_rows = [r for r in rejected if r[1] == "participants"]
    html_rows = [r for r in rejected if r[1] == "performances"]
    assert len(nul_rows) == 1 and bytes(nul_rows[0][3]) == nul_escape and "22P05" in nul_rows[0][2]
    # a syntax error may be a cut transfer: asked again, the same bytes IDENTICAL_REJECTIONS times
    assert len(html_rows) == IDENTICAL_REJECTIONS and all(bytes(r[3]) == html for r in html_rows)
    rows = landed(db_url, "race_num, body")
    assert rows["participants"] == [(2, json.loads(good))]
    assert rows["programme"] and len(report.failed) == 2 and not report.is_final


def test_two_processes_landing_the_same_day_store_each_body_once(shared_pmu, db_url, replay_server):
    root = shared_pmu / "replay"
    base = replay_server(root)
    reports, errors = [], []

    def run():
        try:
            reports.append(ingest_day(DAY, config=config_for(base), db_url=db_url))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert_day_landed_exactly_once(db_url, files_of_day(root))
    assert sum(r.bodies_new for r in reports) == len(files_of_day(root))


def _pmu(*args: str, env_base: str) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, PMU_API_BASE_URL=env_base)
    return subprocess.run(
        [sys.executable, "-m", "pmu_cli.main", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_odds_refresh_fetches_only_participants(shared_pmu, db_url, replay_server):
    morning = replay_server(shared_pmu / "snapshots" / "0855")
    refused = _pmu("ingest", "--date", "2025-11-05", "--only", "participants", "--json", env_base=morning)
    assert refused.returncode == 1 and "ingest the programme first" in refused.stdout

    assert _pmu("ingest", "--date", "2025-11-05", "--only", "programme", env_base=morning).returncode == 0
    later = replay_server(shared_pmu / "snapshots" / "1300")
    done = _pmu(
        "ingest", "--date", "2025-11-05", "--only", "participants", "--json", "--rps", "0", env_base=later
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    files = files_of_day(shared_pmu / "snapshots" / "1300")
    assert summary["bodies_new"] == len(files) and summary["races"] == 63
    rows = landed(db_url, "race_num, served_at")
    assert len(rows["programme"]) == 1 and rows["performances"] == [] and rows["rapports"] == []
    assert {served for _, served in rows["participants"]} == {datetime(2025, 11, 5, 12, 0, 50, tzinfo=UTC)}


def test_cli_refuses_bad_input(db_url):
    bad_only = _pmu("ingest", "--date", "2025-11-05", "--only", "odds", env_base="http://127.0.0.1:9")
    assert bad_only.returncode == 2 and "unknown endpoint" in bad_only.stderr
    bad_date = _pmu("ingest", "--date", "05/11/2025", env_base="http://127.0.0.1:9")
    assert bad_date.returncode == 2 and "YYYY-MM-DD" in bad_date.stderr
    reversed_range = _pmu("backfill", "--start", "2025-11-05", "--end", "2025-11-01", env_base="http://x")
    assert reversed_range.returncode == 2 and "before" in reversed_range.stderr


@pytest.mark.parametrize("client", [1, 61])
def test_client_number_is_in_the_url_and_the_row(tmp_path, db_url, replay_server, client):
    _tiny_day(tmp_path, {1: b'{"participants": []}'})
    base = replay_server(tmp_path)
    ingest_day(DAY, config=config_for(base, client=client), db_url=db_url)
    rows = query(db_url, "select client, url from raw.pmu_participants")
    assert rows == [(client, f"{base}/rest/client/{client}/programme/05112025/R1/C1/participants")]


def test_a_body_differing_only_by_the_servers_stamps_is_not_stored_again(tmp_path, db_url, replay_server):
    """The live API stamps every programme with its clock (`timestampPMU`) and `cached` flags:
    fetching an unchanged day again must still add nothing, while a real change is a snapshot."""

    def programme(stamp: int, cached: str, status: str) -> bytes:
        return (
            b'{"programme": {"cached": ' + cached.encode() + b', "reunions": [{"numOfficiel": 1, '
            b'"courses": [{"numOrdre": 1, "statut": "' + status.encode() + b'"}]}]}, '
            b'"timestampPMU": {"timestamp": ' + str(stamp).encode() + b', "timezoneOffset": 3600000}}'
        )

    bodies = [
        programme(1, "false", "PROGRAMMEE"),
        programme(2, "true", "PROGRAMMEE"),
        programme(3, "false", "FIN_COURSE"),
    ]
    for number, body in enumerate(bodies):
        root = tmp_path / str(number)
        root.mkdir()
        (root / "05112025.json").write_bytes(body)
        ingest_day(DAY, config=config_for(replay_server(root)), db_url=db_url, only=["programme"])
    rows = query(db_url, "select body_sha256, content_sha256 from raw.pmu_programme order by raw_id")
    assert [r[0] for r in rows] == [sha(tmp_path / n / "05112025.json") for n in ("0", "2")]
    outcomes = query(db_url, "select outcome from raw.fetch_log order by fetch_id")
    assert outcomes == [("new",), ("unchanged",), ("new",)]


def test_raw_tables_are_applied_idempotently_and_upgraded(db_url):
    ensure_raw_tables(db_url)
    ensure_raw_tables(db_url)
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:  # a database from before content_sha256
        cur.execute("alter table raw.pmu_rapports drop column content_sha256")
    ensure_raw_tables(db_url)
    columns = query(
        db_url,
        "select table_name from information_schema.columns where table_schema = 'raw' "
        "and column_name = 'content_sha256' order by 1",
    )
    assert columns == [("pmu_participants",), ("pmu_performances",), ("pmu_programme",), ("pmu_rapports",)]
    indexes = query(
        db_url, "select indexdef from pg_indexes where schemaname = 'raw' and indexdef ilike %s", ("%body%",)
    )
    assert indexes == []  # no index on the jsonb column (nor on anything named body)


def test_the_schema_check_follows_the_registry(db_url, monkeypatch):
    """The check that spares applying schema.sql covers every endpoint's raw table, and only
    those: a registry with one more endpoint finds the schema not current until its table exists."""
    params = landing.schema_check_params()
    assert {f"{params['schema']}.{table}" for table in params["tables"]} == {
        e.qualified_table for e in ENDPOINTS
    }
    ensure_raw_tables(db_url)
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        assert landing.schema_is_current(cur)
        extra = Endpoint("odds", "pmu_odds", "cotes", "stg_pmu__odds")
        monkeypatch.setattr(landing, "ENDPOINTS", (*ENDPOINTS, extra))
        assert not landing.schema_is_current(cur)
        cur.execute("create table raw.pmu_odds (like raw.pmu_programme including all)")
        assert landing.schema_is_current(cur)
