"""The whole asset graph, materialised in-process for real: raw assets fetch from the replay
server over HTTP into a fresh PostgreSQL database, then dbt builds the warehouse.

- one real day, twice: the second run lands nothing and the warehouse is identical;
- a three-day backfill is one run (single-run backfill policy) that lands and builds all three days.
"""

import json
import logging
import os
import time
from datetime import date

import dagster as dg
import psycopg2
import pytest

import orchestration
from orchestration.raw_assets import raw_asset_key
from orchestration.resources import PmuApiResource, PostgresResource
from pmu_core.fingerprint import VOLATILE_COLUMNS

pytestmark = pytest.mark.slow

WAREHOUSE_SCHEMAS = ("raw", "staging", "intermediate", "marts")
# Operational logs of the extractor (one row per request / per day run): they grow with every run
# by design, so they are not part of the warehouse's content.
RUN_LOGS = {("raw", "fetch_log"), ("raw", "day_runs")}


def _resources(db_url: str, base_url: str) -> dict:
    resources = dict(orchestration.defs.resources)
    resources["postgres"] = PostgresResource(url=db_url)
    resources["pmu_api"] = PmuApiResource(base_url=base_url, requests_per_second=None, max_workers=4)
    return resources


def _all_assets_and_checks():
    return [*orchestration.defs.assets, *orchestration.defs.asset_checks]


def warehouse_snapshot(db_url: str) -> dict[str, list[tuple]]:
    """Every base table of the warehouse schemas, as a sorted list of rows (text form)."""
    snapshot = {}
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema = any(%s) and table_type = 'BASE TABLE' order by 1, 2",
            (list(WAREHOUSE_SCHEMAS),),
        )
        tables = [t for t in cur.fetchall() if t not in RUN_LOGS]
        for schema, name in tables:
            # clock columns (a re-scored prediction's scored_at in marts.predictions_current) differ
            # between two runs by design, as in `pmu db fingerprint`
            cur.execute(
                "select column_name from information_schema.columns where table_schema = %s"
                " and table_name = %s and column_name <> all(%s) order by ordinal_position",
                (schema, name, sorted(VOLATILE_COLUMNS)),
            )
            columns = psycopg2.sql.SQL(", ").join(psycopg2.sql.Identifier(c) for (c,) in cur.fetchall())
            cur.execute(
                psycopg2.sql.SQL("select row({})::text from {}.{}").format(
                    columns, psycopg2.sql.Identifier(schema), psycopg2.sql.Identifier(name)
                )
            )
            snapshot[f"{schema}.{name}"] = sorted(row[0] for row in cur.fetchall())
    return snapshot


def _count(db_url: str, query: str, params: tuple = ()) -> int:
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return int(cur.fetchone()[0])


def _materializations(result, key: dg.AssetKey):
    return [m for m in result.get_asset_materialization_events() if m.asset_key == key]


def test_one_day_twice_gives_an_identical_warehouse(db_url, shared_pmu, replay_server):
    base_url = replay_server(shared_pmu / "replay")
    resources = _resources(db_url, base_url)
    with dg.instance_for_test() as instance:
        first = dg.materialize(
            _all_assets_and_checks(), partition_key="2025-11-05", resources=resources, instance=instance
        )
        assert first.success
        after_first = warehouse_snapshot(db_url)
        second = dg.materialize(
            _all_assets_and_checks(), partition_key="2025-11-05", resources=resources, instance=instance
        )
        assert second.success
        after_second = warehouse_snapshot(db_url)

    # 05/11/2025 in the recordings: 63 races, each with participants; R1C1 also performances and rapports
    assert _count(db_url, "select count(*) from raw.pmu_programme where race_date = '2025-11-05'") == 1
    assert _count(db_url, "select count(distinct (meeting_num, race_num)) from raw.pmu_participants") == 63
    assert _count(db_url, "select count(*) from raw.pmu_rapports") == 1
    if "marts.race" in after_first:
        assert _count(db_url, "select count(*) from marts.race where race_date = '2025-11-05'") == 63

    # materialisation metadata: what landed the first time, nothing new the second
    meta = _materializations(first, raw_asset_key("participants"))[0].materialization.metadata
    assert meta["bodies_new"].value == 63 and meta["races"].value == 63
    assert meta["dagster/row_count"].value == 63 and meta["mb_landed"].value > 0
    performances = _materializations(first, raw_asset_key("performances"))[0].materialization.metadata
    assert performances["bodies_new"].value == 1 and performances["not_published"].value == 62
    again = _materializations(second, raw_asset_key("participants"))[0].materialization.metadata
    assert again["bodies_new"].value == 0 and again["bodies_unchanged"].value == 63

    # dbt models carry their column types, and tables (not views) their row counts
    if "marts.race" in after_first:
        race = _materializations(first, dg.AssetKey(["marts", "race"]))[0].materialization.metadata
        assert race["dagster/row_count"].value == 63
        types = {c.name: c.type for c in race["dagster/column_schema"].value.columns}
        assert types["race_start_at"] == "timestamp with time zone" and types["distance_m"] == "integer"
        view = _materializations(first, dg.AssetKey(["staging", "stg_pmu__odds_snapshots"]))[0]
        assert "dagster/row_count" not in view.materialization.metadata
        assert "dagster/column_schema" in view.materialization.metadata

    # checks ran and passed on the raw layer
    checks = {(e.asset_key.path[-1], e.check_name): e.passed for e in second.get_asset_check_evaluations()}
    assert checks[("pmu_participants", "every_programme_race_has_participants")] is True
    assert checks[("pmu_programme", "programme_published")] is True
    if "marts.race" in after_first:  # the warehouse agrees with the raw bodies
        assert checks[("race", "every_programme_race_in_core")] is True
        assert checks[("race_participant", "runners_for_every_race_with_participants")] is True

    assert after_first.keys() == after_second.keys()
    for table in after_first:
        assert after_first[table] == after_second[table], f"{table} changed on the second run"
    assert sum(len(rows) for rows in after_first.values()) > 63 * 2


def test_an_odds_run_snapshots_only_the_races_it_names(db_url, shared_pmu, replay_server):
    from orchestration.automation import odds_run_config
    from orchestration.raw_assets import build_raw_assets

    resources = _resources(db_url, replay_server(shared_pmu / "replay"))
    raw = [a for a in build_raw_assets() if a.key.path[-1] in ("pmu_programme", "pmu_participants")]
    ops = odds_run_config(["2025-11-05-R2-C1", "2025-11-05-R7-C1"])["ops"]
    config = {"ops": {op: value for op, value in ops.items() if op.startswith("raw")}}
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            raw, partition_key="2025-11-05", resources=resources, instance=instance, run_config=config
        )
    assert result.success
    landed = "select meeting_num, race_num from raw.pmu_participants order by 1, 2"
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(landed)
        assert cur.fetchall() == [(2, 1), (7, 1)]
        cur.execute("select count(*) from raw.fetch_log where endpoint = 'participants'")
        assert cur.fetchone()[0] == 2  # two requests, not the day's 63
        cur.execute("select count(*) from raw.day_runs")
        assert cur.fetchone()[0] == 0  # a run of some races says nothing of the day's completeness


# The code location the backfill daemon loads for the test: the project's assets and checks, the API
# unthrottled (its address and the database come from the environment at run time), steps in process.
unthrottled_defs = dg.Definitions(
    assets=orchestration.defs.assets,
    asset_checks=orchestration.defs.asset_checks,
    resources={
        **orchestration.defs.resources,
        "postgres": PostgresResource(),
        "pmu_api": PmuApiResource(requests_per_second=None),
    },
    executor=dg.in_process_executor,
)


def test_three_day_backfill_is_one_run(db_url, shared_pmu, replay_server, monkeypatch):
    from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
    from dagster._daemon.backfill import execute_backfill_iteration

    # three consecutive real days (morning snapshots of the history recordings)
    monkeypatch.setenv("PMU_API_BASE_URL", replay_server(shared_pmu / "history" / "morning"))
    days = ["2025-11-05", "2025-11-06", "2025-11-07"]
    origin = InProcessCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(
            python_file=__file__, attribute="unthrottled_defs", working_directory=os.getcwd()
        ),
        location_name="pmu_test",
    )
    launch_now = {
        "run_launcher": {
            "module": "dagster._core.launcher.sync_in_memory_run_launcher",
            "class": "SyncInMemoryRunLauncher",
        },
        "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"},
    }
    with (
        dg.instance_for_test(overrides=launch_now) as instance,
        create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin), instance) as workspace,
    ):
        graph = workspace.create_request_context().asset_graph
        partitioned = [
            k
            for k in graph.get_all_asset_keys()
            if graph.get(k).is_materializable and graph.get(k).partitions_def is not None
        ]
        assert all(graph.get(k).backfill_policy == dg.BackfillPolicy.single_run() for k in partitioned)
        backfill = PartitionBackfill.from_asset_partitions(
            backfill_id="three_days",
            asset_graph=graph,
            partition_names=days,
            asset_selection=partitioned,
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=instance,
            all_partitions=False,
            title=None,
            description=None,
            run_config=None,
        )
        instance.add_backfill(backfill)
        for _ in range(3):  # the daemon's ticks: plan and launch, then see the run finished
            list(execute_backfill_iteration(workspace, logging.getLogger("test_backfill")))
        runs = instance.get_runs()
        assert len(runs) == 1
        assert runs[0].status == dg.DagsterRunStatus.SUCCESS
        assert (
            runs[0].tags["dagster/asset_partition_range_start"],
            runs[0].tags["dagster/asset_partition_range_end"],
        ) == (days[0], days[-1])
        assert instance.get_backfill("three_days").status == BulkActionStatus.COMPLETED_SUCCESS

    for day in days:
        folder = shared_pmu / "history" / "morning" / date.fromisoformat(day).strftime("%d%m%Y")
        expected = len(list(folder.glob("R*/C*/participants.json")))
        got = _count(
            db_url,
            "select count(distinct (meeting_num, race_num)) from raw.pmu_participants where race_date = %s",
            (day,),
        )
        assert got == expected > 0
        if _count(
            db_url,
            "select count(*) from information_schema.tables"
            " where table_schema = 'marts' and table_name = 'race'",
        ):
            programme = json.loads((folder.parent / f"{folder.name}.json").read_text())
            races = sum(len(m["courses"]) for m in programme["programme"]["reunions"])
            assert _count(db_url, "select count(*) from marts.race where race_date = %s", (day,)) == races
