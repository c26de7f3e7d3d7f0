"""Checks on the core marts that dbt's own tests cannot express: the warehouse agrees with the
raw bodies it came from (every programme race is a `marts.race` row, every race with a field has
runners, every landed body gives rows, every day with races gave bodies) and is not behind the raw
layer."""

from collections.abc import Sequence
from datetime import date

import dagster as dg

from orchestration import warehouse
from orchestration.resources import PostgresResource
from pmu_core.facts import race_id

RECENT_DAYS = 7  # checks outside a partitioned run look at the latest days landed
RACE_KEY = dg.AssetKey(["marts", "race"])
RUNNER_KEY = dg.AssetKey(["marts", "race_participant"])


def run_days(tags: dict[str, str]) -> list[date] | None:
    """The race days a run worked on, from its partition tags (None: not a partitioned run)."""
    if "dagster/partition" in tags:
        return [date.fromisoformat(tags["dagster/partition"])]
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    if start and end:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
        return [date.fromordinal(n) for n in range(first.toordinal(), last.toordinal() + 1)]
    return None


def _days(context: dg.AssetCheckExecutionContext, conn) -> list[date]:
    days = run_days(dict(context.run.tags))
    return days if days is not None else warehouse.raw_days(conn)[-RECENT_DAYS:]


def missing_ids(expected: set[str], present: set[str]) -> list[str]:
    return sorted(expected - present)


def build_core_checks(asset_keys: Sequence[dg.AssetKey]) -> list[dg.AssetChecksDefinition]:
    """The checks whose core tables exist in this dbt project."""
    checks = []
    if RACE_KEY in asset_keys:

        @dg.asset_check(asset=RACE_KEY, description="every race of the latest programme is a marts.race row")
        def every_programme_race_in_core(context: dg.AssetCheckExecutionContext, postgres: PostgresResource):
            with postgres.connection() as conn:
                days = _days(context, conn)
                programmes = warehouse.latest_programmes(conn, days)
                expected = {r.race_id for _, races in programmes.values() for r in races}
                present = warehouse.race_ids_in_table(conn, "marts.race", days)
            missing = missing_ids(expected, present)
            return dg.AssetCheckResult(
                passed=not missing,
                metadata={
                    "days": len(days),
                    "programme_races": len(expected),
                    "core_races": len(present & expected),
                    "missing_races": missing[:50],
                },
            )

        @dg.asset_check(asset=RACE_KEY, description="marts.race holds the latest day landed in raw")
        def core_not_behind_raw(context: dg.AssetCheckExecutionContext, postgres: PostgresResource):
            with postgres.connection() as conn:
                landed = warehouse.raw_days(conn)
                built = warehouse.race_ids_in_table(conn, "marts.race", landed[-1:]) if landed else set()
            latest = landed[-1].isoformat() if landed else None
            return dg.AssetCheckResult(
                passed=not landed or bool(built),
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"latest_raw_day": latest, "core_races_that_day": len(built)},
            )

        @dg.asset_check(
            asset=RACE_KEY, description="every day whose programme lists races has participants bodies"
        )
        def every_programme_day_has_race_bodies(
            context: dg.AssetCheckExecutionContext, postgres: PostgresResource
        ):
            with postgres.connection() as conn:
                days = _days(context, conn)
                empty = warehouse.days_without_race_bodies(conn, days)
            return dg.AssetCheckResult(
                passed=not empty,
                metadata={"days": len(days), "days_without_race_bodies": [d.isoformat() for d in empty]},
            )

        checks += [every_programme_race_in_core, core_not_behind_raw, every_programme_day_has_race_bodies]

    if RUNNER_KEY in asset_keys:

        @dg.asset_check(asset=RUNNER_KEY, description="every race with a participants body has runners")
        def runners_for_every_race_with_participants(
            context: dg.AssetCheckExecutionContext, postgres: PostgresResource
        ):
            with postgres.connection() as conn:
                days = _days(context, conn)
                landed = warehouse.landed_race_keys(conn, "participants", days)
                expected = {race_id(d, m, r) for d, m, r in landed}
                present = warehouse.race_ids_in_table(conn, "marts.race_participant", days)
            missing = missing_ids(expected, present)
            return dg.AssetCheckResult(
                passed=not missing,
                metadata={"races_with_participants": len(expected), "missing_races": missing[:50]},
            )

        @dg.asset_check(
            asset=RUNNER_KEY,
            description="every landed body gives staging rows (staging.bodies_without_rows is empty)",
        )
        def every_landed_body_yields_rows(context: dg.AssetCheckExecutionContext, postgres: PostgresResource):
            with postgres.connection() as conn:
                days = _days(context, conn)
                empty = warehouse.bodies_without_rows(conn, days)
            return dg.AssetCheckResult(
                passed=not empty,
                metadata={
                    "days": len(days),
                    "bodies_without_rows": len(empty),
                    "examples": [f"{endpoint} {url}: {reason}" for endpoint, url, reason in empty[:20]],
                },
            )

        checks += [runners_for_every_race_with_participants, every_landed_body_yields_rows]
    return checks
