"""The replay server answers like the live API: stored bytes, 204 when absent, capture time as
Date, and each fault kind on demand."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC
from email.utils import parsedate_to_datetime

import pytest
import requests

from pmu_core.replay_server import FaultPlan


def _write_day(root, day="05112025", captured=None):
    (root / day / "R1" / "C1").mkdir(parents=True)
    (root / f"{day}.json").write_bytes(b'{"programme": {"reunions": []}}')
    (root / day / "R1" / "C1" / "participants.json").write_bytes(b'{"participants": [1, 2, 3]}')
    if captured:
        (root / "_captured_at.json").write_text(json.dumps({day: captured}))


def test_serves_stored_bytes_of_real_recording(shared_pmu, replay_server):
    base = replay_server(shared_pmu / "replay")
    path = "05112025/R1/C1/participants"
    response = requests.get(f"{base}/rest/client/1/programme/{path}", timeout=5)
    assert response.status_code == 200
    assert response.content == (shared_pmu / "replay" / f"{path}.json").read_bytes()


def test_client_number_and_query_do_not_change_the_file(tmp_path, replay_server):
    _write_day(tmp_path)
    base = replay_server(tmp_path)
    one = requests.get(f"{base}/rest/client/1/programme/05112025", timeout=5).content
    seven = requests.get(
        f"{base}/rest/client/7/programme/05112025?specialisation=INTERNET", timeout=5
    ).content
    assert one == seven == (tmp_path / "05112025.json").read_bytes()


def test_missing_file_is_204_and_escape_is_refused(tmp_path, replay_server):
    _write_day(tmp_path)
    base = replay_server(tmp_path)
    missing = requests.get(f"{base}/rest/client/1/programme/05112025/R9/C9/participants", timeout=5)
    assert missing.status_code == 204 and missing.content == b""
    escape = requests.get(f"{base}/rest/client/1/programme/..%2F..%2Fetc%2Fpasswd", timeout=5)
    assert escape.status_code == 404


def test_date_header_is_capture_time_when_known(tmp_path, replay_server):
    _write_day(tmp_path, captured="2025-11-05T08:55:00+01:00")
    base = replay_server(tmp_path)
    response = requests.get(f"{base}/rest/client/1/programme/05112025", timeout=5)
    assert parsedate_to_datetime(response.headers["Date"]).isoformat() == "2025-11-05T07:55:00+00:00"


def test_date_header_is_now_without_capture_file(tmp_path, replay_server):
    from datetime import datetime

    _write_day(tmp_path)
    base = replay_server(tmp_path)
    served = parsedate_to_datetime(
        requests.get(f"{base}/rest/client/1/programme/05112025", timeout=5).headers["Date"]
    )
    assert abs((datetime.now(UTC) - served).total_seconds()) < 60


def test_fault_500(tmp_path, replay_server):
    _write_day(tmp_path)
    base = replay_server(tmp_path, FaultPlan(rate=1.0, kinds=("500",)))
    assert requests.get(f"{base}/rest/client/1/programme/05112025", timeout=5).status_code == 500


def test_fault_429_carries_retry_after(tmp_path, replay_server):
    _write_day(tmp_path)
    base = replay_server(tmp_path, FaultPlan(rate=1.0, kinds=("429",), retry_after_seconds=7))
    response = requests.get(f"{base}/rest/client/1/programme/05112025", timeout=5)
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"


def test_fault_slow_exceeds_client_timeout(tmp_path, replay_server):
    _write_day(tmp_path)
    base = replay_server(tmp_path, FaultPlan(rate=1.0, kinds=("slow",), slow_seconds=1.5))
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{base}/rest/client/1/programme/05112025", timeout=(2, 0.3))


def test_fault_truncated_body_is_not_json(tmp_path, replay_server):
    _write_day(tmp_path)
    base = replay_server(tmp_path, FaultPlan(rate=1.0, kinds=("truncated",)))
    response = requests.get(f"{base}/rest/client/1/programme/05112025/R1/C1/participants", timeout=5)
    full = (tmp_path / "05112025" / "R1" / "C1" / "participants.json").read_bytes()
    assert response.status_code == 200
    assert full.startswith(response.content) and len(response.content) < len(full)
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_fault_rate_is_seeded_and_partial():
    draws_a = [FaultPlan(rate=0.2, seed=3).draw() for _ in range(1)]
    plan_a, plan_b = FaultPlan(rate=0.2, seed=3), FaultPlan(rate=0.2, seed=3)
    seq_a = [plan_a.draw() for _ in range(500)]
    seq_b = [plan_b.draw() for _ in range(500)]
    assert seq_a == seq_b and draws_a[0] == seq_a[0]
    faults = [d for d in seq_a if d]
    assert 60 < len(faults) < 140  # about 20% of 500
    assert set(faults) == {"500", "429", "slow", "truncated"}


def test_unknown_fault_kind_is_refused():
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FaultPlan(rate=0.5, kinds=("teapot",))


def test_cli_runs_a_real_server_process(tmp_path):
    _write_day(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pmu_cli.main", "replay-server", "--root", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = proc.stdout.readline()
        base = first_line.split(" on ", 1)[1].split(" serving", 1)[0]
        response = requests.get(f"{base}/rest/client/61/programme/05112025", timeout=5)
        assert response.status_code == 200
        assert response.content == (tmp_path / "05112025.json").read_bytes()
    finally:
        proc.terminate()
        proc.wait(10)
