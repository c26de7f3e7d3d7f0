"""The replay server's HTTP/1.1 core over real sockets: keep-alive and pipelining on one
connection, HEAD, fresh bytes after a file changes, faults per connection, clean shutdown."""

from __future__ import annotations

import http.client
import os
import socket
import time

import pytest

from pmu_core.replay_server import FaultPlan, ReplayServerThread

API = "/rest/client/1/programme"


def _write_day(root, day="05112025"):
    (root / day / "R1" / "C1").mkdir(parents=True)
    (root / f"{day}.json").write_bytes(b'{"programme": {"reunions": []}}')
    (root / day / "R1" / "C1" / "participants.json").write_bytes(b'{"participants": [1, 2, 3]}')


def _connection(server) -> http.client.HTTPConnection:
    host, port = server.httpd.server_address[:2]
    return http.client.HTTPConnection(host, port, timeout=5)


def _read_answer(reader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP answer from a socket file: status, headers (lower-case names), body."""
    status = int(reader.readline().split()[1])
    headers = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, reader.read(int(headers.get("content-length", 0)))


def test_one_connection_serves_many_requests_in_order(tmp_path):
    _write_day(tmp_path)
    programme = (tmp_path / "05112025.json").read_bytes()
    participants = (tmp_path / "05112025" / "R1" / "C1" / "participants.json").read_bytes()
    with ReplayServerThread(tmp_path) as server:
        conn = _connection(server)
        for _ in range(50):
            conn.request("GET", f"{API}/05112025")
            first = conn.getresponse()
            assert first.status == 200 and first.read() == programme
            conn.request("GET", f"{API}/05112025/R1/C1/participants")
            second = conn.getresponse()
            assert second.status == 200 and second.read() == participants
            conn.request("GET", f"{API}/05112025/R9/C9/participants")
            missing = conn.getresponse()
            assert missing.status == 204 and missing.read() == b""
        local_port = conn.sock.getsockname()[1]
        conn.request("GET", f"{API}/05112025")
        conn.getresponse().read()
        assert conn.sock.getsockname()[1] == local_port  # never reconnected
        conn.close()
        assert server.httpd.requests_served == 151 and server.httpd.connections_accepted == 1


def test_pipelined_requests_are_answered_in_order(tmp_path):
    _write_day(tmp_path)
    programme = (tmp_path / "05112025.json").read_bytes()
    with ReplayServerThread(tmp_path) as server:
        sock = socket.create_connection(server.httpd.server_address[:2], timeout=5)
        sock.sendall(
            b"".join(
                f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                for path in (
                    f"{API}/05112025",
                    f"{API}/05112025/R9/C9/rapports-definitifs",
                    "/elsewhere",
                    f"{API}/05112025",
                )
            )
        )
        reader = sock.makefile("rb")
        answers = [_read_answer(reader) for _ in range(4)]
        sock.close()
    assert [a[0] for a in answers] == [200, 204, 404, 200]
    assert answers[0][2] == answers[3][2] == programme


def test_head_sends_the_headers_of_get_without_a_body(tmp_path):
    _write_day(tmp_path)
    size = len((tmp_path / "05112025.json").read_bytes())
    with ReplayServerThread(tmp_path) as server:
        conn = _connection(server)
        conn.request("HEAD", f"{API}/05112025")
        head = conn.getresponse()
        assert head.status == 200 and head.getheader("Content-Length") == str(size)
        assert head.getheader("Content-Type").startswith("application/json")
        assert head.read() == b""
        # had a body been sent, the next answer on the same connection would start with it
        conn.request("GET", f"{API}/05112025")
        assert conn.getresponse().read() == (tmp_path / "05112025.json").read_bytes()
        conn.request("HEAD", f"{API}/05112025/R9/C9/participants")
        assert conn.getresponse().status == 204


def test_a_rewritten_file_is_served_fresh(tmp_path):
    _write_day(tmp_path)
    path = tmp_path / "05112025.json"
    with ReplayServerThread(tmp_path) as server:
        conn = _connection(server)
        conn.request("GET", f"{API}/05112025")
        assert conn.getresponse().read() == b'{"programme": {"reunions": []}}'
        path.write_bytes(b'{"programme": {"reunions": [1, 2]}}')  # another size
        conn.request("GET", f"{API}/05112025")
        assert conn.getresponse().read() == b'{"programme": {"reunions": [1, 2]}}'
        stamp = path.stat().st_mtime_ns
        path.write_bytes(b'{"programme": {"reunions": [3, 4]}}')  # same size, another mtime
        os.utime(path, ns=(stamp + 1_000_000_000, stamp + 1_000_000_000))
        conn.request("GET", f"{API}/05112025")
        assert conn.getresponse().read() == b'{"programme": {"reunions": [3, 4]}}'
        path.unlink()
        conn.request("GET", f"{API}/05112025")
        gone = conn.getresponse()
        assert gone.status == 204 and gone.read() == b""
        (tmp_path / "05112025" / "R1" / "C1" / "rapports-definitifs.json").write_bytes(b"[]")
        conn.request("GET", f"{API}/05112025/R1/C1/rapports-definitifs")
        assert conn.getresponse().read() == b"[]"


def test_non_api_paths_are_404_and_other_methods_501(tmp_path):
    _write_day(tmp_path)
    with ReplayServerThread(tmp_path) as server:
        conn = _connection(server)
        conn.request("GET", "/rest/client/1/elsewhere")
        answer = conn.getresponse()
        assert answer.status == 404 and b"not an API path" in answer.read()
        conn.request("POST", f"{API}/05112025", body=b"{}")
        assert conn.getresponse().status == 501


def test_connection_close_and_http_1_0_end_the_connection(tmp_path):
    _write_day(tmp_path)
    with ReplayServerThread(tmp_path) as server:
        for request in (
            f"GET {API}/05112025 HTTP/1.1\r\nConnection: close\r\n\r\n",
            f"GET {API}/05112025 HTTP/1.0\r\n\r\n",
        ):
            sock = socket.create_connection(server.httpd.server_address[:2], timeout=5)
            sock.sendall(request.encode())
            reader = sock.makefile("rb")
            status, _, body = _read_answer(reader)
            assert status == 200 and body == (tmp_path / "05112025.json").read_bytes()
            assert reader.read() == b""  # the server closed its end
            sock.close()


def test_each_fault_kind_on_a_kept_alive_connection(tmp_path):
    _write_day(tmp_path)
    full = (tmp_path / "05112025" / "R1" / "C1" / "participants.json").read_bytes()
    for kind in ("500", "429", "truncated", "slow"):
        faults = FaultPlan(rate=1.0, kinds=(kind,), retry_after_seconds=4, slow_seconds=0.3)
        with ReplayServerThread(tmp_path, faults=faults) as server:
            conn = _connection(server)
            for _ in range(2):  # the connection stays usable after a fault
                started = time.monotonic()
                conn.request("GET", f"{API}/05112025/R1/C1/participants")
                answer = conn.getresponse()
                body = answer.read()
                if kind == "500":
                    assert answer.status == 500
                elif kind == "429":
                    assert answer.status == 429 and answer.getheader("Retry-After") == "4"
                elif kind == "truncated":
                    assert answer.status == 200 and full.startswith(body) and len(body) < len(full)
                else:
                    assert answer.status == 200 and body == full
                    assert time.monotonic() - started >= 0.3


def test_a_slow_answer_holds_only_its_own_connection(tmp_path):
    _write_day(tmp_path)

    def first_two_draws(seed):
        plan = FaultPlan(rate=0.5, kinds=("slow",), seed=seed)
        return [plan.draw(), plan.draw()]

    seed = next(s for s in range(100) if first_two_draws(s) == ["slow", None])
    faults = FaultPlan(rate=0.5, kinds=("slow",), seed=seed, slow_seconds=1.5)
    with ReplayServerThread(tmp_path, faults=faults) as server:
        started = time.monotonic()
        slow = socket.create_connection(server.httpd.server_address[:2], timeout=5)
        slow.sendall(f"GET {API}/05112025 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        time.sleep(0.1)  # drawn first
        conn = _connection(server)
        conn.request("GET", f"{API}/05112025")
        fast = conn.getresponse()
        assert fast.status == 200 and fast.read() and time.monotonic() - started < 1.0
        status, _, body = _read_answer(slow.makefile("rb"))
        assert status == 200 and body == (tmp_path / "05112025.json").read_bytes()
        assert time.monotonic() - started >= 1.5
        slow.close()


def test_shutdown_closes_idle_kept_alive_connections(tmp_path):
    _write_day(tmp_path)
    server = ReplayServerThread(tmp_path).__enter__()
    sock = socket.create_connection(server.httpd.server_address[:2], timeout=5)
    sock.sendall(f"GET {API}/05112025 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    reader = sock.makefile("rb")
    assert _read_answer(reader)[0] == 200
    server.__exit__(None, None, None)
    assert reader.read() == b""  # closed by the server, not left hanging
    sock.close()
    with pytest.raises(OSError):
        socket.create_connection(server.httpd.server_address[:2], timeout=1)
