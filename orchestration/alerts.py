"""Alert sensors: a run that fails, and the morning data not landed by its deadline, reach a
person through pmu_core.notify (a log file by default; a webhook or SMTP from the environment).
Both start running: by default they only append to PMU_HOME/alerts.log."""

from __future__ import annotations

from datetime import datetime, time

import dagster as dg

from orchestration import race_clock, warehouse
from orchestration.automation import current_time
from orchestration.resources import PostgresResource
from pmu_core import notify
from pmu_core.facts import PARIS

# The morning run (08:00 Paris) should have landed these by 09:00 (raw_assets.MORNING_FRESHNESS).
MORNING_DEADLINE = time(9, 0)
FRESH_ENDPOINTS = ("programme", "participants")


def run_failure_details(run_id: str, job_name: str, partition: str | None, message: str | None) -> dict:
    return {"run_id": run_id, "job": job_name, "partition": partition, "reason": message or "run failed"}


def freshness_breaches(now: datetime, latest: dict[str, datetime | None]) -> list[str]:
    """Once today's deadline (09:00 Paris) has passed, the endpoints with no body of today landed
    since today began (Paris); empty before the deadline."""
    today = race_clock.paris_day(now)
    deadline = datetime.combine(today, MORNING_DEADLINE, tzinfo=PARIS)
    if now < deadline:
        return []
    day_start = datetime.combine(today, time(0, 0), tzinfo=PARIS)
    return sorted(e for e, at in latest.items() if at is None or at < day_start)


def build_alert_sensors() -> list:
    @dg.run_failure_sensor(
        name="run_failure_alert",
        description="Any failed run: job, partition, run id and the failure's reason to the alert "
        "channel (PMU_ALERT_WEBHOOK_URL, PMU_ALERT_SMTP_HOST, else PMU_HOME/alerts.log).",
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
    )
    def run_failure_alert(context: dg.RunFailureSensorContext):
        run = context.dagster_run
        details = run_failure_details(
            run.run_id, run.job_name, run.tags.get("dagster/partition"), context.failure_event.message
        )
        where = notify.notify(f"run failed: {run.job_name}", details)
        context.log.info(f"alert sent ({where.kind} {where.target})")

    @dg.sensor(
        name="morning_freshness_alert",
        description="After 09:00 Paris (the project's clock), today's programme and participants must "
        "have landed; once a day, an alert names what is missing.",
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=300,
    )
    def morning_freshness_alert(context: dg.SensorEvaluationContext, postgres: PostgresResource):
        now = current_time()
        today = race_clock.paris_day(now)
        if context.cursor == today.isoformat():
            return dg.SkipReason(f"already alerted for {today}")
        with postgres.connection() as conn:
            latest = {e: warehouse.latest_fetch(conn, e, today) for e in FRESH_ENDPOINTS}
        stale = freshness_breaches(now, latest)
        if not stale:
            return dg.SkipReason(f"{today}: fresh or before the 09:00 deadline")
        details = {"race_date": today.isoformat(), "not_landed": stale, "checked_at": now.isoformat()}
        where = notify.notify(f"morning data missing for {today}: {', '.join(stale)}", details)
        context.update_cursor(today.isoformat())
        return dg.SkipReason(f"alerted ({where.kind}): {', '.join(stale)} not landed for {today}")

    return [run_failure_alert, morning_freshness_alert]
