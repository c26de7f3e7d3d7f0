"""Alerts reach a real receiver: a webhook on an HTTP server on 127.0.0.1, mail through an SMTP
server on 127.0.0.1 (aiosmtpd), or the log file; the run-failure sensor after a real failed run,
the morning freshness sensor on the project's clock."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from orchestration.alerts import build_alert_sensors, freshness_breaches
from orchestration.resources import PostgresResource
from pmu_core import notify


@pytest.fixture
def webhook():
    """A real HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def clean_alert_env(monkeypatch, tmp_path):
    for name in ("PMU_ALERT_WEBHOOK_URL", "PMU_ALERT_SMTP_HOST", "PMU_ALERT_SMTP_PORT", "PMU_ALERT_LOG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PMU_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "alerts.log"


def test_default_channel_is_a_log_file_under_pmu_home(clean_alert_env):
    where = notify.notify("something broke", {"why": "a test"})
    assert where.kind == "log" and where.target == str(clean_alert_env)
    line = json.loads(clean_alert_env.read_text().splitlines()[-1])
    assert line["subject"] == "something broke" and line["details"] == {"why": "a test"}


def test_webhook_receives_the_alert(clean_alert_env, webhook, monkeypatch):
    url, received = webhook
    monkeypatch.setenv("PMU_ALERT_WEBHOOK_URL", url)
    assert notify.notify("hello", {"n": 1}).kind == "webhook"
    assert received[0]["subject"] == "hello" and received[0]["details"] == {"n": 1}
    assert not clean_alert_env.exists()


def test_smtp_delivers_a_mail_to_a_local_server(clean_alert_env, monkeypatch):
    from aiosmtpd.controller import Controller

    mails = []

    class Inbox:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
            mails.append(envelope)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setenv("PMU_ALERT_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("PMU_ALERT_SMTP_PORT", str(port))
        monkeypatch.setenv("PMU_ALERT_SMTP_TO", "oncall@example.org")
        assert notify.notify("run failed: daily_job", {"reason": "boom"}).kind == "smtp"
    finally:
        controller.stop()
    assert mails and mails[0].rcpt_tos == ["oncall@example.org"]
    body = mails[0].content.decode()
    assert "Subject: [pmu-warehouse] run failed: daily_job" in body and '"reason": "boom"' in body


def test_freshness_breaches_after_the_deadline_only():
    before = datetime(2025, 11, 30, 7, 59, tzinfo=UTC)  # 08:59 Paris
    after = datetime(2025, 11, 30, 8, 1, tzinfo=UTC)
    yesterday = datetime(2025, 11, 29, 20, 0, tzinfo=UTC)
    today = datetime(2025, 11, 30, 7, 5, tzinfo=UTC)
    assert freshness_breaches(before, {"programme": None, "participants": None}) == []
    assert freshness_breaches(after, {"programme": today, "participants": None}) == ["participants"]
    assert freshness_breaches(after, {"programme": yesterday, "participants": today}) == ["programme"]
    assert freshness_breaches(after, {"programme": today, "participants": today}) == []


def test_run_failure_sensor_alerts_with_the_runs_reason(clean_alert_env, webhook, monkeypatch):
    url, received = webhook
    monkeypatch.setenv("PMU_ALERT_WEBHOOK_URL", url)

    @dg.op
    def breaks():
        raise dg.Failure(
            description="3 programme request(s) failed: http://127.0.0.1:1/x: Connection refused"
        )

    @dg.job
    def broken_job():
        breaks()

    run_failure_alert = next(s for s in build_alert_sensors() if s.name == "run_failure_alert")
    with dg.instance_for_test() as instance:
        result = broken_job.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alert",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=failure,
        ).for_run_failure()
        run_failure_alert(context)
    alert = received[-1]
    assert alert["subject"] == "run failed: broken_job"
    assert alert["details"]["run_id"] == result.run_id and alert["details"]["job"] == "broken_job"


def test_morning_freshness_sensor_alerts_once_a_day(clean_alert_env, db_url, monkeypatch):
    monkeypatch.setenv("PMU_NOW", "2025-11-30T09:30")  # Paris, after the deadline; nothing landed
    monkeypatch.setenv("PMU_ALERT_LOG", str(clean_alert_env))  # db_url has its own PMU_HOME
    sensor = next(s for s in build_alert_sensors() if s.name == "morning_freshness_alert")
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources={"postgres": PostgresResource(url=db_url)}
        )
        first = sensor.evaluate_tick(context)
        assert "alerted (log)" in first.skip_message and first.cursor == "2025-11-30"
        again = dg.build_sensor_context(
            instance=instance, cursor=first.cursor, resources={"postgres": PostgresResource(url=db_url)}
        )
        assert "already alerted" in sensor.evaluate_tick(again).skip_message
    alerts = [json.loads(line) for line in clean_alert_env.read_text().splitlines()]
    assert len(alerts) == 1 and alerts[0]["details"]["not_landed"] == ["participants", "programme"]
