"""Alerts to people: one `notify(subject, details)` whose channel the settings choose.

PMU_ALERT_WEBHOOK_URL   POST the alert as JSON ({"subject", "details", "sent_at"}) to this URL
PMU_ALERT_SMTP_HOST     send it by mail through this server (PMU_ALERT_SMTP_PORT, default 25;
                        PMU_ALERT_SMTP_FROM, PMU_ALERT_SMTP_TO comma-separated; PMU_ALERT_SMTP_USER
                        and PMU_ALERT_SMTP_PASSWORD to log in; PMU_ALERT_SMTP_STARTTLS=1)
otherwise               append one JSON line to PMU_ALERT_LOG (default PMU_HOME/alerts.log)

The webhook wins over SMTP, SMTP over the log file. Credentials are read, never printed."""

from __future__ import annotations

import json
import os
import smtplib
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from pmu_core.settings import load_settings


@dataclass(frozen=True)
class Channel:
    kind: str  # webhook | smtp | log
    target: str  # URL, host:port, or file path (what a message may name: no credential)


def channel() -> Channel:
    if os.environ.get("PMU_ALERT_WEBHOOK_URL"):
        return Channel("webhook", os.environ["PMU_ALERT_WEBHOOK_URL"])
    if os.environ.get("PMU_ALERT_SMTP_HOST"):
        return Channel(
            "smtp", f"{os.environ['PMU_ALERT_SMTP_HOST']}:{os.environ.get('PMU_ALERT_SMTP_PORT') or 25}"
        )
    return Channel("log", os.environ.get("PMU_ALERT_LOG") or str(load_settings().home / "alerts.log"))


def alert_payload(subject: str, details: dict, sent_at: datetime | None = None) -> dict:
    return {"subject": subject, "details": details, "sent_at": (sent_at or datetime.now(UTC)).isoformat()}


def notify(subject: str, details: dict, *, timeout: float = 10.0) -> Channel:
    """Send one alert on the configured channel; returns where it went. Raises on a delivery failure
    (the sensor's tick then fails and shows why)."""
    where = channel()
    payload = alert_payload(subject, details)
    if where.kind == "webhook":
        request = urllib.request.Request(
            where.target,
            data=json.dumps(payload, default=str).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
    elif where.kind == "smtp":
        message = EmailMessage()
        message["Subject"] = f"[pmu-warehouse] {subject}"
        message["From"] = os.environ.get("PMU_ALERT_SMTP_FROM") or "pmu-warehouse@localhost"
        message["To"] = os.environ.get("PMU_ALERT_SMTP_TO") or "root@localhost"
        message.set_content(json.dumps(payload, indent=2, default=str))
        host, port = where.target.rsplit(":", 1)
        with smtplib.SMTP(host, int(port), timeout=timeout) as smtp:
            if os.environ.get("PMU_ALERT_SMTP_STARTTLS") == "1":
                smtp.starttls()
            if os.environ.get("PMU_ALERT_SMTP_USER"):
                smtp.login(os.environ["PMU_ALERT_SMTP_USER"], os.environ.get("PMU_ALERT_SMTP_PASSWORD", ""))
            smtp.send_message(message)
    else:
        path = Path(where.target)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(payload, default=str) + "\n")
    return where
