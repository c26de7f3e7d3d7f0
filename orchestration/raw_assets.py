"""Raw landing assets: one per endpoint of the registry (pmu_core.facts.ENDPOINTS), keyed
`raw/<raw_table>`, partitioned by race day, calling `extract/`.

Each materialisation lands the partition's days with `extract.ingest.ingest_day(only=[endpoint])`
(append-only and idempotent: an unchanged body adds no row), reports what it landed as metadata
and evaluates its checks on the days it touched. URLs that still fail after the client's own
retries fail the step once the rest is landed, so the step's retry policy fetches them again.
"""

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import dagster as dg
from pydantic import Field

from orchestration import warehouse
from orchestration.partitions import context_days, daily_partitions, single_run_backfill
from orchestration.race_clock import RESULTS_GIVE_UP, RaceStart, day_is_over
from orchestration.resources import PmuApiResource, PostgresResource
from pmu_core import facts, settings

RAW_GROUP = "raw"
API_POOL = "pmu_api"  # one run at a time talks to the API: politeness holds across runs
# The morning run (08:00 Paris) should have landed the day's programme and fields by 09:00.
MORNING_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="0 9 * * *", lower_bound_delta=timedelta(hours=1), timezone=facts.PARIS.key
)


class RawFetchConfig(dg.Config):
    race_ids: list[str] | None = Field(
        default=None,
        description="per-race endpoints: fetch only these races of the programme (YYYY-MM-DD-R1-C1; "
        "the pre-race odds sensor's runs); unset: every race",
    )


NETWORK_RETRY = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def raw_asset_key(endpoint: str) -> dg.AssetKey:
    """`raw/<raw_table>`: the key dbt's sources on that table map to (orchestration/dbt_assets.py)."""
    return dg.AssetKey([facts.RAW_SCHEMA, facts.endpoint(endpoint).raw_table])


# --- checks: pure functions over the latest programmes and what has landed -------------------


def races_without_participants(
    programmes: dict[date, list[RaceStart]], landed: set[tuple[date, int, int]]
) -> list[str]:
    """Every race of the programme should have a participants body (cancelled ones excepted:
    PMU may withdraw them before publishing a field)."""
    return [
        r.race_id for races in programmes.values() for r in races if not r.cancelled and r.key not in landed
    ]


def races_without_rapports(
    programmes: dict[date, list[RaceStart]], landed: set[tuple[date, int, int]], now: datetime
) -> list[str]:
    """Races run long enough ago that their rapports should be published, but none landed."""
    return [
        r.race_id
        for races in programmes.values()
        for r in races
        if not r.cancelled and r.start_at + RESULTS_GIVE_UP <= now and r.key not in landed
    ]


def stale_programme_days(
    programmes: dict[date, tuple[datetime | None, list[RaceStart]]], now: datetime
) -> list[str]:
    """Days that are over but whose latest programme was true before their last race started:
    the warehouse has no results for them yet."""
    stale = []
    for day, (served_at, races) in sorted(programmes.items()):
        if day_is_over(races, now) and (served_at is None or served_at < max(r.start_at for r in races)):
            stale.append(day.isoformat())
    return stale


# How requests fail when no server can answer: the name does not resolve, or nothing listens.
UNREACHABLE_MARKERS = (
    "NameResolutionError",
    "Name or service not known",
    "Temporary failure in name resolution",
    "nodename nor servname",
    "Failed to resolve",
    "Connection refused",
    "ConnectionRefusedError",
)


def is_unreachable(reason: str) -> bool:
    """The failure says no server could be reached (as opposed to a server that answered badly)."""
    return any(marker in (reason or "") for marker in UNREACHABLE_MARKERS)


def all_unreachable(failed: list[dict]) -> bool:
    return bool(failed) and all(is_unreachable(f.get("reason", "")) for f in failed)


def failure_description(endpoint: str, failed: list[dict], shown: int = 3) -> str:
    """The step's failure message: how many, then the first URLs with their reasons."""
    unreachable = " (API unreachable: not retried)" if all_unreachable(failed) else ""
    lines = [f"{len(failed)} {endpoint} request(s) failed{unreachable}:"]
    lines += [f"  {f['url']}: {f.get('reason') or 'failed'}" for f in failed[:shown]]
    if len(failed) > shown:
        lines.append(f"  ... and {len(failed) - shown} more (metadata 'failed', table raw.fetch_log)")
    return "\n".join(lines)


# Checks per endpoint (an endpoint without an entry has none).
CHECKS: dict[str, list[tuple[str, str]]] = {
    "programme": [
        ("programme_published", "every day of the partition has a programme body"),
        ("programme_fresh", "days that are over have a programme captured after their last start"),
    ],
    "participants": [
        (
            "every_programme_race_has_participants",
            "every race of the latest programme has a participants body",
        )
    ],
    "rapports": [
        ("finished_races_have_rapports", "races started more than 6 h ago have their rapports-definitifs")
    ],
}


def _evaluate_checks(endpoint: str, conn, days: list[date], now: datetime) -> Iterator[dg.AssetCheckResult]:
    key = raw_asset_key(endpoint)
    latest = warehouse.latest_programmes(conn, days)
    programmes = {day: races for day, (_, races) in latest.items()}
    if endpoint == "programme":
        missing = [d.isoformat() for d in days if d not in latest]
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name="programme_published",
            passed=not missing,
            severity=dg.AssetCheckSeverity.WARN,  # a day without racing is possible, so warn
            metadata={"days": len(days), "days_without_programme": missing[:50]},
        )
        stale = stale_programme_days(latest, now)
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name="programme_fresh",
            passed=not stale,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"stale_days": stale[:50]},
        )
    elif endpoint == "participants":
        missing = races_without_participants(programmes, warehouse.landed_race_keys(conn, endpoint, days))
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name="every_programme_race_has_participants",
            passed=not missing,
            metadata={
                "races": sum(len(r) for r in programmes.values()),
                "missing": len(missing),
                "missing_races": missing[:50],
            },
        )
    elif endpoint == "rapports":
        missing = races_without_rapports(programmes, warehouse.landed_race_keys(conn, endpoint, days), now)
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name="finished_races_have_rapports",
            passed=not missing,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"missing": len(missing), "missing_races": missing[:50]},
        )


def build_raw_asset(
    endpoint: str, retry_policy: dg.RetryPolicy | None = NETWORK_RETRY
) -> dg.AssetsDefinition:
    spec = facts.endpoint(endpoint)
    key = raw_asset_key(endpoint)

    @dg.asset(
        key=key,
        # a per-race endpoint fetches the races of the day's programme
        deps=[raw_asset_key("programme")] if spec.per_race else [],
        partitions_def=daily_partitions,
        backfill_policy=single_run_backfill,
        group_name=RAW_GROUP,
        retry_policy=retry_policy,
        pool=API_POOL,
        freshness_policy=MORNING_FRESHNESS if endpoint in facts.MORNING_SNAPSHOT_ENDPOINTS else None,
        kinds={"python", "postgres"},
        description=f"Untouched PMU `{endpoint}` bodies, one row per distinct snapshot "
        f"({spec.qualified_table}).",
        check_specs=[
            dg.AssetCheckSpec(name, asset=key, description=text) for name, text in CHECKS.get(endpoint, [])
        ],
    )
    def _raw_asset(
        context: dg.AssetExecutionContext,
        config: RawFetchConfig,
        postgres: PostgresResource,
        pmu_api: PmuApiResource,
    ):
        from extract.ingest import ensure_raw_tables, ingest_day, merge_reports

        days = context_days(context)
        url = postgres.get_url()
        ensure_raw_tables(url)
        client_config = pmu_api.client_config()
        warning = settings.live_api_warning(client_config.base_url)
        if warning:
            context.log.warning(warning)
        if not spec.per_race:
            to_fetch = days
        else:  # a day without a programme (none published: no racing) has no races to fetch
            with postgres.connection() as conn:
                to_fetch = sorted(warehouse.latest_programmes(conn, days))
        race_ids = set(config.race_ids) if config.race_ids is not None and spec.per_race else None
        reports = [
            ingest_day(day, config=client_config, db_url=url, only=[endpoint], race_ids=race_ids)
            for day in to_fetch
        ]
        summary = merge_reports(reports, days[0], days[-1]).as_dict()
        summary["days_without_programme"] = len(days) - len(to_fetch)
        context.log.info(f"{endpoint} {days[0]}..{days[-1]}: {summary | {'failed': len(summary['failed'])}}")
        if summary["failed"]:
            # What could be landed is landed (and will not be landed twice): fail so that the retry
            # policy fetches the rest, unless the API cannot be reached at all (a wrong host, nothing
            # listening): retrying that for minutes only hides the cause.
            raise dg.Failure(
                description=failure_description(endpoint, summary["failed"]),
                metadata={"base_url": client_config.base_url, "failed": summary["failed"][:50]},
                allow_retries=not all_unreachable(summary["failed"]),
            )
        with postgres.connection() as conn:
            rows = warehouse.raw_rows(conn, endpoint, days)
            table_mb = warehouse.table_megabytes(conn, spec.qualified_table)
            checks = list(_evaluate_checks(endpoint, conn, days, settings.now()))
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "days": len(days),
                "days_without_programme": summary["days_without_programme"],
                "races": summary["races"],
                "bodies_new": summary["bodies_new"],
                "bodies_unchanged": summary["bodies_unchanged"],
                "not_published": summary["not_published"],
                "rejected": summary["rejected"],
                "mb_landed": round(summary["bytes_landed"] / 1e6, 3),
                "table_mb": table_mb,
            }
        )
        yield from checks

    return _raw_asset


def build_raw_assets() -> list[dg.AssetsDefinition]:
    """One raw asset per endpoint of the registry, in its fetch order."""
    return [build_raw_asset(e.name) for e in facts.ENDPOINTS]
