"""The extraction client and the small pure functions of extract/: backoff, Retry-After, the rate
limiter's arithmetic, endpoint paths, reading races from a real programme, finality, CSV fields.
HTTP behaviour is checked against the replay server over real HTTP."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from extract.client import (
    ClientConfig,
    PmuClient,
    RateLimiter,
    backoff_delay,
    parse_http_date,
    parse_retry_after,
)
from extract.endpoints import day_is_final, parse_only, races_to_fetch
from extract.landing import content_sha256, csv_line, precheck_body, sha256_hex
from pmu_core.facts import api_path
from pmu_core.programme import ProgrammeRace, programme_races
from pmu_core.replay_server import FaultPlan, ReplayServerThread

# ---- pure functions ----------------------------------------------------------------------------


def test_backoff_doubles_until_the_cap_and_jitters_within_half_a_step():
    assert backoff_delay(1, 0.5, 30, 0.0) == 0.25 and backoff_delay(1, 0.5, 30, 1.0) == 0.5
    assert backoff_delay(3, 0.5, 30, 1.0) == 2.0  # 0.5 * 2**2
    assert backoff_delay(20, 0.5, 30, 0.0) == 15.0 and backoff_delay(20, 0.5, 30, 1.0) == 30.0


def test_retry_after_in_seconds_or_http_date():
    now = datetime(2025, 11, 5, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Wed, 05 Nov 2025 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 05 Nov 2025 11:00:00 GMT", now) == 0.0  # in the past: go now
    assert parse_retry_after(None, now) is None and parse_retry_after("soon", now) is None


def test_http_date_is_utc():
    assert parse_http_date("Wed, 05 Nov 2025 07:55:23 GMT") == datetime(2025, 11, 5, 7, 55, 23, tzinfo=UTC)
    assert parse_http_date("garbage") is None and parse_http_date(None) is None


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_rate_limiter_spaces_slots_and_forgets_idle_time():
    clock = FakeClock()
    limiter = RateLimiter(4.0, clock=clock)
    assert [limiter.reserve() for _ in range(4)] == [0.0, 0.25, 0.5, 0.75]
    clock.now += 10  # idle: no burst credit is saved up beyond the next slot
    assert limiter.reserve() == 0.0 and limiter.reserve() == 0.25


def test_rate_limiter_pause_holds_everyone_back_and_unlimited_never_waits():
    clock = FakeClock()
    unlimited = RateLimiter(None, clock=clock)
    assert [unlimited.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    unlimited.pause_until_in(5)
    assert unlimited.reserve() == 5.0


def test_config_rejects_nonsense_and_reads_env(monkeypatch):
    with pytest.raises(ValueError):
        ClientConfig(base_url="http://x", requests_per_second=0)
    with pytest.raises(ValueError):
        ClientConfig(base_url="http://x", max_workers=0)
    monkeypatch.setenv("PMU_API_BASE_URL", "http://127.0.0.1:1234/")
    config = ClientConfig.from_env(client=61)
    assert config.base_url == "http://127.0.0.1:1234" and config.client == 61
    assert config.url("05112025") == "http://127.0.0.1:1234/rest/client/61/programme/05112025"


def test_api_paths_of_the_four_endpoints():
    day = date(2025, 11, 5)
    assert api_path("programme", day) == "05112025"
    assert api_path("participants", day, 1, 2) == "05112025/R1/C2/participants"
    assert api_path("performances", day, 3, 10) == "05112025/R3/C10/performances-detaillees/pretty"
    assert api_path("rapports", day, 1, 1) == "05112025/R1/C1/rapports-definitifs"
    with pytest.raises(ValueError):
        api_path("participants", day)


def test_only_keeps_the_strict_order_and_refuses_unknown_names():
    assert parse_only(["rapports,participants"]) == ("participants", "rapports")
    assert parse_only(["rapports", "programme"]) == ("programme", "rapports")
    assert parse_only(None) == ("programme", "participants", "performances", "rapports")
    with pytest.raises(ValueError, match="odds"):
        parse_only(["odds"])


def test_races_of_a_real_programme(shared_pmu):
    body = json.loads((shared_pmu / "replay" / "16112025.json").read_bytes())
    races = programme_races(body)
    meetings = body["programme"]["reunions"]
    expected = {(m["numOfficiel"], c["numOrdre"]) for m in meetings for c in m["courses"]}
    assert {(r.meeting_num, r.race_num) for r in races} == expected and len(races) == 110
    cancelled = [r for r in races if r.status == "COURSE_ANNULEE"]
    provisional = [r for r in races if r.status == "ARRIVEE_PROVISOIRE"]
    assert len(cancelled) == 1 and cancelled[0].is_over
    assert len(provisional) == 1 and not provisional[0].is_over


def test_morning_programme_races_are_not_over(shared_pmu):
    body = json.loads((shared_pmu / "snapshots" / "0855" / "05112025.json").read_bytes())
    races = programme_races(body)
    assert len(races) == 63 and not any(r.is_over for r in races)
    with pytest.raises(ValueError, match="not a programme"):
        programme_races({"participants": []})


def test_day_is_final_rules():
    day = date(2025, 11, 5)
    over = ProgrammeRace(None, 1, 1, status="FIN_COURSE", is_over=True)
    running = ProgrammeRace(None, 1, 2, status="PROGRAMMEE", is_over=False)
    evening = datetime(2025, 11, 5, 22, 0, tzinfo=UTC)
    assert day_is_final(day, [over], evening, complete=True)
    assert not day_is_final(day, [over], evening, complete=False)
    assert not day_is_final(day, [over, running], evening, complete=True)
    assert day_is_final(day, [over, running], evening + timedelta(days=3), complete=True)
    assert not day_is_final(day, None, evening, complete=True)  # no programme yet: may come
    assert day_is_final(day, None, evening + timedelta(days=3), complete=True)


def test_precheck_body():
    assert precheck_body(b'{"a": 1}') is None
    assert precheck_body('{"a": "é"}'.encode()) is None
    assert precheck_body(b"")[1] is True  # empty: transport, retry
    assert precheck_body(b'{"a": "\x00"}')[1] is False
    assert "UTF-8" in precheck_body(b'{"a": "\xff"}')[0]


def test_csv_line_round_trips_quotes_backslashes_and_nulls():
    body = b'{"a": "say \\"hi\\"\\n", "b": "c:\\\\d", "e": "x,y"}'
    line = csv_line((1, None, "", 'a"b', body))
    row = next(csv.reader(io.StringIO(line.decode())))
    assert row == ["1", "", "", 'a"b', body.decode()]
    assert line.startswith(b'1,,"",')  # NULL unquoted, empty string quoted: PostgreSQL tells them apart


# ---- over HTTP, against the replay server --------------------------------------------------------


def _day_dir(tmp_path):
    (tmp_path / "05112025" / "R1" / "C1").mkdir(parents=True)
    (tmp_path / "05112025.json").write_bytes(b'{"programme": {"reunions": []}}')
    return tmp_path


def _client(base_url, sleeps, **overrides):
    config = ClientConfig(base_url=base_url, requests_per_second=None, backoff_base_seconds=0.01, **overrides)
    return PmuClient(config, sleep=sleeps.append)


def test_fetches_reuse_one_kept_alive_connection_per_worker(tmp_path):
    day = _day_dir(tmp_path)
    for race in range(1, 41):
        (day / "05112025" / "R1" / f"C{race}").mkdir(parents=True, exist_ok=True)
        (day / "05112025" / "R1" / f"C{race}" / "participants.json").write_bytes(b'{"c": %d}' % race)
    with ReplayServerThread(day) as server, _client(server.base_url, [], max_workers=2) as client:
        for _ in range(3):
            results = client.fetch_many(
                [
                    (f"05112025/R1/C{race}/{endpoint}", race)
                    for race in range(1, 41)
                    for endpoint in ("participants", "rapports-definitifs")
                ]
            )
            assert [r.body for r in results[::2]] == [b'{"c": %d}' % race for race in range(1, 41)]
            assert {r.status for r in results[1::2]} == {"not_published"}
        client.fetch("05112025")  # a single fetch runs on the calling thread: its own connection
        assert server.httpd.requests_served == 241
        assert server.httpd.connections_accepted <= 3


def test_a_closed_connection_pool_is_replaced(tmp_path):
    with ReplayServerThread(_day_dir(tmp_path)) as server, _client(server.base_url, []) as client:
        assert client.fetch("05112025").status == "ok"
        session = client._session()
        session.get_adapter(client.config.base_url).close()  # what requests does on Session.close()
        assert client.fetch("05112025").status == "ok"
        assert server.httpd.connections_accepted == 2


def test_ok_and_not_published_are_one_request_each(tmp_path):
    with ReplayServerThread(_day_dir(tmp_path)) as server:
        sleeps = []
        with _client(server.base_url, sleeps) as client:
            ok = client.fetch("05112025")
            missing = client.fetch("05112025/R1/C1/participants")
        assert ok.status == "ok" and ok.body == (tmp_path / "05112025.json").read_bytes()
        assert ok.served_at is not None and ok.attempts == 1
        assert missing.status == "not_published" and missing.http_status == 204 and missing.attempts == 1
        assert server.httpd.requests_served == 2 and sleeps == []


def test_server_errors_are_retried_then_reported(tmp_path):
    with ReplayServerThread(_day_dir(tmp_path), faults=FaultPlan(rate=1.0, kinds=("500",))) as server:
        sleeps = []
        with _client(server.base_url, sleeps, max_attempts=3) as client:
            result = client.fetch("05112025")
        assert result.status == "failed" and "HTTP 500" in result.reason and result.attempts == 3
        assert server.httpd.requests_served == 3
        assert len(sleeps) == 2 and sleeps[1] > sleeps[0] / 2  # backoff between tries, none after the last


def test_retry_after_is_honoured(tmp_path):
    faults = FaultPlan(rate=1.0, kinds=("429",), retry_after_seconds=2)
    with ReplayServerThread(_day_dir(tmp_path), faults=faults) as server:
        sleeps = []
        with _client(server.base_url, sleeps, max_attempts=2) as client:
            result = client.fetch("05112025")
        assert result.status == "failed" and "HTTP 429" in result.reason
        assert sleeps[0] >= 2.0  # waited what the server asked, not the 10 ms backoff


def test_retry_after_longer_than_allowed_gives_up(tmp_path):
    faults = FaultPlan(rate=1.0, kinds=("429",), retry_after_seconds=120)
    with ReplayServerThread(_day_dir(tmp_path), faults=faults) as server:
        sleeps = []
        with _client(server.base_url, sleeps, max_attempts=5) as client:
            result = client.fetch("05112025")
        assert result.status == "failed" and "exceeds" in result.reason
        assert server.httpd.requests_served == 1 and sleeps == []


def test_read_timeout_is_retried(tmp_path):
    faults = FaultPlan(rate=1.0, kinds=("slow",), slow_seconds=0.6)
    with ReplayServerThread(_day_dir(tmp_path), faults=faults) as server:
        sleeps = []
        with _client(server.base_url, sleeps, max_attempts=2, read_timeout=0.2) as client:
            result = client.fetch("05112025")
        assert result.status == "failed" and result.reason.startswith("timeout") and result.attempts == 2


def test_fetch_many_keeps_order_and_tags(tmp_path):
    day = _day_dir(tmp_path)
    for race in range(1, 6):
        (day / "05112025" / "R1" / f"C{race}").mkdir(parents=True, exist_ok=True)
        (day / "05112025" / "R1" / f"C{race}" / "participants.json").write_bytes(b'{"c": %d}' % race)
    with ReplayServerThread(day) as server, _client(server.base_url, []) as client:
        items = [(f"05112025/R1/C{race}/participants", race) for race in range(1, 8)]
        results = client.fetch_many(items)
    assert [r.tag for r in results] == list(range(1, 8))
    assert [r.body for r in results[:5]] == [b'{"c": %d}' % race for race in range(1, 6)]
    assert [r.status for r in results[5:]] == ["not_published", "not_published"]


def test_content_hash_ignores_the_servers_stamps_only(shared_pmu):
    body = (shared_pmu / "replay" / "05112025.json").read_bytes()
    stamp = json.dumps(json.loads(body)["timestampPMU"]).encode()
    assert body.count(b'"timestampPMU"') == 1
    restamped = body.replace(b'"cached": false', b'"cached": true').replace(
        b'"timestamp": ' + stamp.split(b'"timestamp": ')[1].split(b",")[0], b'"timestamp": 1'
    )
    assert restamped != body and sha256_hex(restamped) != sha256_hex(body)
    assert content_sha256(restamped) == content_sha256(body)
    changed = body.replace(b'"distance": 3000', b'"distance": 3100', 1)
    assert content_sha256(changed) != content_sha256(body)
    # a string that merely mentions the key is content, not a stamp
    one, two = b'{"nom": "\\"cached\\": true"}', b'{"nom": "\\"cached\\": false"}'
    assert content_sha256(one) != content_sha256(two)
    plain = b'{"participants": []}'
    assert content_sha256(plain) == sha256_hex(plain)


def test_every_request_goes_through_the_global_rate_limit(tmp_path):
    """4 requests/s: the 2nd, 3rd and 4th request wait for their slots (a recorded sleep stands in
    for the clock, so nothing here depends on timing)."""
    with ReplayServerThread(_day_dir(tmp_path)) as server:
        sleeps = []
        config = ClientConfig(base_url=server.base_url, requests_per_second=4.0, max_workers=2)
        with PmuClient(config, sleep=sleeps.append) as client:
            client.limiter = RateLimiter(4.0, clock=FakeClock(), sleep=sleeps.append)  # frozen clock
            results = client.fetch_many([("05112025", n) for n in range(4)])
    assert [r.status for r in results] == ["ok"] * 4
    assert sorted(sleeps) == [0.25, 0.5, 0.75]  # the first goes at once, the others wait their slot


def test_404_is_not_published_and_other_client_errors_are_not_retried(tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits = []

    class Forbidden(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            hits.append(self.path)
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    forbidden = ThreadingHTTPServer(("127.0.0.1", 0), Forbidden)
    threading.Thread(target=forbidden.serve_forever, daemon=True).start()
    try:
        with _client(f"http://127.0.0.1:{forbidden.server_address[1]}", []) as client:
            refused = client.fetch("05112025")
    finally:
        forbidden.shutdown()
        forbidden.server_close()
    assert refused.status == "failed" and "HTTP 403" in refused.reason and len(hits) == 1

    with ReplayServerThread(_day_dir(tmp_path)) as server:  # outside the API's paths it answers 404
        with _client(f"{server.base_url}/elsewhere", []) as client:
            missing = client.fetch("05112025")
        assert (missing.status, missing.http_status, missing.attempts) == ("not_published", 404, 1)
        assert server.httpd.requests_served == 1


def test_cookies_the_api_sets_are_not_kept_nor_sent_back():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    cookies_received = []

    class SetsCookies(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 - http.server's naming
            cookies_received.append(self.headers.get("Cookie"))
            self.send_response(200)
            self.send_header("Set-Cookie", "session=abc; Path=/")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), SetsCookies)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with _client(f"http://127.0.0.1:{server.server_address[1]}", []) as client:
            results = [client.fetch("05112025") for _ in range(3)]
            jar = client._session().cookies
    finally:
        server.shutdown()
        server.server_close()
    assert [r.status for r in results] == ["ok"] * 3
    assert cookies_received == [None, None, None] and len(jar) == 0


def _raw_server(answer: bytes, stall: float = 0.0):
    """A socket server that answers every connection with `answer` (its Content-Length may lie),
    then waits `stall` seconds and closes: a body cut or stalled mid-transfer."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def answer_one(conn):
        conn.recv(65536)
        conn.sendall(answer)
        time.sleep(stall)
        conn.close()

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)
            threading.Thread(target=answer_one, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener, accepted


def test_a_body_cut_or_stalled_mid_transfer_is_retried_then_reported():
    cut = b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"programme": '
    for stall, expected in ((0.0, "connection error"), (0.6, "timeout")):
        listener, accepted = _raw_server(cut, stall)
        try:
            with _client(
                f"http://127.0.0.1:{listener.getsockname()[1]}", [], max_attempts=2, read_timeout=0.2
            ) as client:
                result = client.fetch("05112025")
        finally:
            listener.close()
        assert result.status == "failed" and result.attempts == 2 and len(accepted) == 2
        assert result.reason.startswith(expected) and result.body is None


def test_rapports_are_asked_only_where_a_fresh_programme_announces_them():
    programme = {
        "programme": {
            "reunions": [
                {
                    "numOfficiel": 1,
                    "courses": [
                        {
                            "numOrdre": 1,
                            "statut": "FIN_COURSE",
                            "arriveeDefinitive": True,
                            "rapportsDefinitifsDisponibles": True,
                        },
                        {"numOrdre": 2, "statut": "PROGRAMMEE", "rapportsDefinitifsDisponibles": False},
                        {"numOrdre": 3, "statut": "PROGRAMMEE"},  # no flag (older bodies): asked
                    ],
                }
            ]
        }
    }
    races = programme_races(programme)
    assert [r.rapports_available for r in races] == [True, False, None]
    asked, not_asked = races_to_fetch("rapports", races, programme_is_fresh=True)
    assert [r.race_num for r in asked] == [1, 3] and [r.race_num for r in not_asked] == [2]
    # an older programme (the morning's, read back by an `only=[rapports]` run) is not trusted
    assert races_to_fetch("rapports", races, programme_is_fresh=False) == (races, [])
    assert races_to_fetch("participants", races, programme_is_fresh=True) == (races, [])


def test_a_day_with_rapports_left_unasked_is_not_final():
    day = date(2025, 11, 5)
    evening = datetime(2025, 11, 5, 22, 0, tzinfo=UTC)
    over = ProgrammeRace(None, 1, 1, status="FIN_COURSE", is_over=True)
    assert day_is_final(day, [over], evening, complete=True)
    assert not day_is_final(day, [over], evening, complete=True, races_not_asked=1)
    assert day_is_final(day, [over], evening + timedelta(days=3), complete=True, races_not_asked=1)
