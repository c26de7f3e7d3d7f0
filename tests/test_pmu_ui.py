"""`pmu ui` for real: `dagster dev` with a replay server started by `--replay`, answering on
127.0.0.1, and stopped with all its children by SIGTERM or SIGINT (also when started in the
background, where a shell would have SIGINT ignored)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

STARTUP_SECONDS = 300  # dagster dev loads the definitions in its code server: slow on a busy box


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            children = (task / "children").read_text().split() if (task / "children").exists() else []
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_pmu_ui_replay_serves_then_stops_with_its_children(db_url, shared_pmu, signum):
    port = _free_port()
    ui = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pmu_cli.main",
            "ui",
            "--port",
            str(port),
            "--replay",
            str(shared_pmu / "replay"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # as a shell starts a background job: SIGINT ignored, which `pmu ui` must undo
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        env=os.environ | {"PMU_API_BASE_URL": ""},
        start_new_session=True,  # its own group, so that a failing test can end every child
    )
    try:
        banner = [ui.stdout.readline() for _ in range(2)]
        assert any("API resource -> replay server http://127.0.0.1:" in line for line in banner), banner
        assert not any("LIVE API" in line for line in banner)
        deadline = time.monotonic() + STARTUP_SECONDS
        answer = None
        while time.monotonic() < deadline and ui.poll() is None:
            try:
                answer = _graphql(port, "{ assetNodes { assetKey { path } } }")
                if answer.get("data", {}).get("assetNodes"):
                    break
            except OSError:
                pass
            time.sleep(2)
        if not (answer and answer["data"]["assetNodes"]):
            os.killpg(ui.pid, signal.SIGKILL)
            pytest.fail(
                f"the UI did not serve the asset graph (exit {ui.poll()}):\n{ui.stdout.read()[-4000:]}"
            )
        keys = {"/".join(n["assetKey"]["path"]) for n in answer["data"]["assetNodes"]}
        assert {"raw/pmu_programme", "marts/race"} <= keys
        children = _descendants(ui.pid)
        assert len(children) >= 2  # the replay server, dagster's webserver/daemon/code server
        ui.send_signal(signum)
        ui.wait(timeout=90)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(pid) for pid in children):
            time.sleep(0.5)
        assert not [pid for pid in children if _alive(pid)], "children outlived pmu ui"
    finally:
        if ui.poll() is None:
            os.killpg(ui.pid, signal.SIGKILL)
