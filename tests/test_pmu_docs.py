"""`pmu docs` for real: dbt docs generated against the warehouse and served on 127.0.0.1, with
the consumer mart, the exposures and the metrics in the manifest it serves."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def test_pmu_docs_serves_the_dbt_docs_on_localhost(db_url):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    docs = subprocess.Popen(
        [sys.executable, "-m", "pmu_cli.main", "docs", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline, page = time.monotonic() + 300, None
        while time.monotonic() < deadline and docs.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/manifest.json", timeout=5) as answer:
                    page = json.loads(answer.read())
                    break
            except OSError:
                time.sleep(2)
        assert page is not None, docs.stdout.read() if docs.poll() is not None else "no answer"
        assert "model.pmu_warehouse.predictions_current" in page["nodes"]
        assert {"exposure.pmu_warehouse.prediction_api", "exposure.pmu_warehouse.win_model"} <= set(
            page["exposures"]
        )
        assert {"metric.pmu_warehouse.win_rate", "metric.pmu_warehouse.favourite_win_rate"} <= set(
            page["metrics"]
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
            assert b"dbt" in answer.read()
        docs.send_signal(signal.SIGTERM)
        docs.wait(timeout=30)
    finally:
        if docs.poll() is None:
            os.killpg(docs.pid, signal.SIGKILL)
